#include "model/rope_layout.h"

#include <cstring>

#include "core/error.h"

namespace duq::model {

void interleaved_to_rotate_half(Mat& w, int n_heads) {
  DUQ_CHECK(w.rows() % n_heads == 0);
  const int64_t hd = w.rows() / n_heads, half = hd / 2, D = w.cols();
  Mat src = w;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(w.row(h * hd + j * half + i), src.row(h * hd + 2 * i + j), sizeof(float) * static_cast<size_t>(D));
}

void rotate_half_to_interleaved(Mat& w, int n_heads) {
  DUQ_CHECK(w.rows() % n_heads == 0);
  const int64_t hd = w.rows() / n_heads, half = hd / 2, D = w.cols();
  Mat src = w;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(w.row(h * hd + 2 * i + j), src.row(h * hd + j * half + i), sizeof(float) * static_cast<size_t>(D));
}

void convert_to_interleaved(ModelConfig& cfg, ModelWeights& w) {
  if (cfg.rope_layout == RopeLayout::Interleaved) return;
  for (auto& L : w.layers) {
    rotate_half_to_interleaved(L.wq, cfg.n_heads);
    rotate_half_to_interleaved(L.wk, cfg.n_kv_heads);
  }
  cfg.rope_layout = RopeLayout::Interleaved;
}

void convert_to_rotate_half(ModelConfig& cfg, ModelWeights& w) {
  if (cfg.rope_layout == RopeLayout::RotateHalf) return;
  for (auto& L : w.layers) {
    interleaved_to_rotate_half(L.wq, cfg.n_heads);
    interleaved_to_rotate_half(L.wk, cfg.n_kv_heads);
  }
  cfg.rope_layout = RopeLayout::RotateHalf;
}

}  // namespace duq::model
