#include "transform/duquant_transform.h"

#include "transform/smoothing.h"
#include "transform/zigzag.h"

namespace duq::transform {

namespace {

// x ← x·diag(f) or x·diag(1/f) column-wise.
void scale_columns(MatView x, const std::vector<float>& f, bool divide) {
  DUQ_CHECK(static_cast<int64_t>(f.size()) == x.cols, "smoothing length ", f.size(), " != ", x.cols);
  for (int64_t i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j)
      r[j] = divide ? r[j] / f[static_cast<size_t>(j)] : r[j] * f[static_cast<size_t>(j)];
  }
}

}  // namespace

void DuQuantTransform::apply_orthogonal(MatView x) const {
  DUQ_CHECK(rotations.size() == perms.size() + 1, "DuQuantTransform: rounds");
  for (size_t i = 0; i < rotations.size(); ++i) {
    rotations[i].apply_rows(x);
    if (i < perms.size()) permute_columns(x, perms[i]);
  }
}

void DuQuantTransform::apply(MatView x) const {
  if (!smooth.empty()) scale_columns(x, smooth, /*divide=*/true);
  apply_orthogonal(x);
}

void DuQuantTransform::fold_weight(MatView w) const {
  if (!smooth.empty()) scale_columns(w, smooth, /*divide=*/false);
  apply_orthogonal(w);
}

Mat DuQuantTransform::matrix() const {
  Mat g(dim(), dim());
  for (int64_t i = 0; i < dim(); ++i) g(i, i) = 1.f;
  apply(g);
  return g;
}

DuQuantTransform duquant_search(ConstMatView x, const DuQuantOptions& opts, Mat* transformed) {
  if (opts.rounds < 0) fail("DuQuant permutation rounds must be non-negative (got ", opts.rounds, ")");
  if (!opts.smooth.empty() && static_cast<int64_t>(opts.smooth.size()) != x.cols)
    fail("smoothing factors have ", opts.smooth.size(), " entries but the input has ", x.cols, " channels");
  for (float s : opts.smooth)
    if (!(s > 0.f)) fail("smoothing factors must be positive (got ", s, ")");
  if (opts.block < 1 || opts.block > x.cols)
    fail("rotation block size ", opts.block, " must be between 1 and the dimension ", x.cols);

  DuQuantTransform t;
  t.smooth = opts.smooth;
  Mat cur(x);
  if (!t.smooth.empty()) scale_columns(cur, t.smooth, /*divide=*/true);
  for (int i = 0; i <= opts.rounds; ++i) {
    GreedyOptions g{opts.steps, opts.variant, derive_seed(opts.seed, 2 + static_cast<uint64_t>(i)), opts.fast};
    // The paper's BlockDiag(R̂_b1, …, R̂_bK) for its variant; the authors' code shares one R̂ over the blocks.
    t.rotations.push_back(search_block_rotation(cur, opts.block, g, nullptr, opts.variant == SearchVariant::kPaper));
    t.rotations.back().apply_rows(cur);
    if (i < opts.rounds) {
      t.perms.push_back(zigzag_permutation(column_abs_max(cur), opts.block));
      permute_columns(cur, t.perms.back());
    }
  }
  if (transformed) *transformed = std::move(cur);
  return t;
}

}  // namespace duq::transform
