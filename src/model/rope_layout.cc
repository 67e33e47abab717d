#include "model/rope_layout.h"

#include <cstring>

#include "core/error.h"

namespace duq::model {

namespace {
// Within every head of w [n_heads·hd × D], row 2i+j (interleaved) and row j·hd/2 + i (rotate-half) trade places
// in the given direction.
void permute_head_rows(Mat& w, int n_heads, bool to_rotate_half) {
  DUQ_CHECK(w.rows() % n_heads == 0);
  const int64_t hd = w.rows() / n_heads, half = hd / 2, D = w.cols();
  Mat src = w;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t interleaved = h * hd + 2 * i + j, rotate_half = h * hd + j * half + i;
        std::memcpy(w.row(to_rotate_half ? rotate_half : interleaved),
                    src.row(to_rotate_half ? interleaved : rotate_half), sizeof(float) * static_cast<size_t>(D));
      }
}

void convert_layout(ModelConfig& cfg, ModelWeights& w, RopeLayout to) {
  if (cfg.rope_layout == to) return;
  for (auto& L : w.layers) {
    permute_head_rows(L.wq, cfg.n_heads, to == RopeLayout::RotateHalf);
    permute_head_rows(L.wk, cfg.n_kv_heads, to == RopeLayout::RotateHalf);
  }
  cfg.rope_layout = to;
}
}  // namespace

void interleaved_to_rotate_half(Mat& w, int n_heads) { permute_head_rows(w, n_heads, true); }
void rotate_half_to_interleaved(Mat& w, int n_heads) { permute_head_rows(w, n_heads, false); }
void convert_to_rotate_half(ModelConfig& cfg, ModelWeights& w) { convert_layout(cfg, w, RopeLayout::RotateHalf); }
void convert_to_interleaved(ModelConfig& cfg, ModelWeights& w) { convert_layout(cfg, w, RopeLayout::Interleaved); }

}  // namespace duq::model
