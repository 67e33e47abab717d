// Pixels for the HTML report (eval/report_html.h) without an image library: max-pooled downsampling of
// curves and heat maps (max, so that a single massive outlier survives the reduction), a log colour scale,
// and a palette PNG encoder (stored deflate blocks: no zlib needed, the browser inflates them).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace duq::eval {

// values [n] reduced to at most max_points by taking the max over runs of `bucket` consecutive entries
// (bucket = ceil(n / max_points); the last run may be shorter). bucket = 1 returns the input.
std::vector<float> bucket_max(std::span<const float> values, int64_t max_points, int64_t* bucket = nullptr);

// A [rows × cols] raster (row-major) max-pooled from a larger one: each cell is the max over a
// row_step × col_step tile of the source.
struct Raster {
  int64_t rows = 0, cols = 0;
  int64_t row_step = 1, col_step = 1;  // source rows / columns per cell
  std::vector<float> v;                // [rows × cols]
  float max() const;
};
Raster max_pool(std::span<const float> src, int64_t src_rows, int64_t src_cols, int64_t max_rows, int64_t max_cols);

// Log colour scale: value ≤ lo → 0, ≥ hi → 255, log-linear between. lo, hi > 0.
uint8_t log_index(float value, float lo, float hi);

// 256 RGB entries of the viridis colour map (dark blue → yellow), interpolated from anchor colours.
const std::array<std::array<uint8_t, 3>, 256>& viridis();
// "#rrggbb" of a palette entry.
std::string hex_color(const std::array<uint8_t, 3>& rgb);

// An 8-bit palette PNG file [height × width] of palette indices (row-major).
std::string encode_png_palette(std::span<const uint8_t> indices, int width, int height,
                               const std::array<std::array<uint8_t, 3>, 256>& palette);

std::string base64(std::string_view bytes);

// CRC-32 (PNG / zlib polynomial) and Adler-32 (zlib), exposed for tests.
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);
uint32_t adler32(std::string_view bytes);

}  // namespace duq::eval
