#include "transform/block_rotation.h"

#include <algorithm>

#include "kernels/gemm_f32.h"

namespace duq::transform {

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

Mat transposed(const Mat& m) {
  Mat t(m.cols(), m.rows());
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j) t(j, i) = m(i, j);
  return t;
}

// x [T×w] slice ← slice·r [w×w] through a scratch buffer.
void rotate_slice(MatView slice, const Mat& r, Mat& tmp) {
  if (tmp.rows() != slice.rows || tmp.cols() != slice.cols) tmp.resize(slice.rows, slice.cols);
  kernels::matmul(slice, r, tmp);
  for (int64_t i = 0; i < slice.rows; ++i) std::copy(tmp.row(i), tmp.row(i) + slice.cols, slice.row(i));
}

void apply_with(MatView x, const BlockRotation& br, bool inverse) {
  DUQ_CHECK(x.cols == br.dim, "BlockRotation width ", x.cols, " != ", br.dim);
  DUQ_CHECK(br.per_block.empty() || static_cast<int64_t>(br.per_block.size()) == br.full_blocks(),
            "BlockRotation: ", br.per_block.size(), " per-block matrices for ", br.full_blocks(), " blocks");
  Mat tmp;
  const Mat shared = inverse && br.per_block.empty() ? transposed(br.full) : Mat();
  for (int64_t blk = 0; blk < br.full_blocks(); ++blk) {
    const Mat& m = br.block_matrix(blk);
    rotate_slice(x.cols_slice(blk * br.block, br.block),
                 !inverse               ? m
                 : br.per_block.empty() ? shared
                                        : transposed(m),
                 tmp);
  }
  if (br.tail_width() > 0)
    rotate_slice(x.cols_slice(br.dim - br.tail_width(), br.tail_width()), inverse ? transposed(br.tail) : br.tail, tmp);
}

}  // namespace

void BlockRotation::apply_rows(MatView x) const { apply_with(x, *this, false); }

void BlockRotation::apply_rows_inverse(MatView x) const { apply_with(x, *this, true); }

Mat BlockRotation::matrix() const {
  Mat r(dim, dim);
  for (int64_t i = 0; i < dim; ++i) r(i, i) = 1.f;
  apply_rows(r);
  return r;
}

BlockRotation search_block_rotation(ConstMatView x, int64_t block, const GreedyOptions& opts, GreedyResult* full_result,
                                    bool per_block) {
  if (block < 1) fail("rotation block size must be positive (got ", block, ")");
  if (block > x.cols)
    fail("rotation block size ", block, " is larger than the dimension ", x.cols, "; use a block of at most ", x.cols);
  BlockRotation br;
  br.dim = x.cols;
  br.block = block;
  const int64_t full_w = br.full_blocks() * block;
  if (per_block) {
    for (int64_t k = 0; k < br.full_blocks(); ++k) {
      GreedyOptions bo = opts;
      bo.seed = derive_seed(opts.seed, 2 + static_cast<uint64_t>(k));
      GreedyResult res = greedy_rotation(x.cols_slice(k * block, block), block, bo);
      br.per_block.push_back(std::move(res.rotation));
      if (full_result && k == 0) *full_result = std::move(res);
    }
  } else {
    GreedyResult res = greedy_rotation(x.cols_slice(0, full_w), block, opts);
    br.full = std::move(res.rotation);
    if (full_result) *full_result = std::move(res);
  }
  if (const int64_t r = br.tail_width(); r > 0) {
    GreedyOptions tail_opts = opts;
    tail_opts.seed = derive_seed(opts.seed, 1);
    br.tail = greedy_rotation(x.cols_slice(full_w, r), r, tail_opts).rotation;
  }
  return br;
}

}  // namespace duq::transform
