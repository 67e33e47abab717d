#include "eval/report_html_raster.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace duq::eval {

std::vector<float> bucket_max(std::span<const float> values, int64_t max_points, int64_t* bucket) {
  const int64_t n = static_cast<int64_t>(values.size());
  const int64_t b = (max_points <= 0 || n <= max_points) ? 1 : (n + max_points - 1) / max_points;
  if (bucket) *bucket = b;
  if (b == 1) return {values.begin(), values.end()};
  std::vector<float> out;
  out.reserve(static_cast<size_t>((n + b - 1) / b));
  for (int64_t i = 0; i < n; i += b) {
    float m = values[static_cast<size_t>(i)];
    for (int64_t k = i + 1; k < std::min(n, i + b); ++k) m = std::max(m, values[static_cast<size_t>(k)]);
    out.push_back(m);
  }
  return out;
}

float Raster::max() const { return v.empty() ? 0.f : *std::max_element(v.begin(), v.end()); }

Raster max_pool(std::span<const float> src, int64_t src_rows, int64_t src_cols, int64_t max_rows, int64_t max_cols) {
  DUQ_CHECK(static_cast<int64_t>(src.size()) == src_rows * src_cols && max_rows > 0 && max_cols > 0);
  Raster r;
  r.row_step = std::max<int64_t>(1, (src_rows + max_rows - 1) / max_rows);
  r.col_step = std::max<int64_t>(1, (src_cols + max_cols - 1) / max_cols);
  r.rows = (src_rows + r.row_step - 1) / r.row_step;
  r.cols = (src_cols + r.col_step - 1) / r.col_step;
  r.v.assign(static_cast<size_t>(r.rows * r.cols), -INFINITY);
  for (int64_t i = 0; i < src_rows; ++i) {
    float* out = r.v.data() + (i / r.row_step) * r.cols;
    const float* in = src.data() + i * src_cols;
    for (int64_t j = 0; j < src_cols; ++j) out[j / r.col_step] = std::max(out[j / r.col_step], in[j]);
  }
  return r;
}

uint8_t log_index(float value, float lo, float hi) {
  if (!(value > lo)) return 0;
  if (value >= hi || !(hi > lo)) return 255;
  const double f = std::log(double(value) / lo) / std::log(double(hi) / lo);
  return static_cast<uint8_t>(std::clamp(std::lround(f * 255.0), 0L, 255L));
}

const std::array<std::array<uint8_t, 3>, 256>& viridis() {
  static const std::array<std::array<uint8_t, 3>, 256> table = [] {
    // Anchors of matplotlib's viridis at t = 0, 1/8, …, 7/8, 15/16, 1.
    struct A {
      double t;
      int r, g, b;
    };
    static constexpr A anchors[] = {{0.0, 0x44, 0x01, 0x54},   {0.125, 0x48, 0x28, 0x78}, {0.25, 0x3e, 0x49, 0x89},
                                    {0.375, 0x31, 0x68, 0x8e}, {0.5, 0x26, 0x82, 0x8e},   {0.625, 0x1f, 0x9e, 0x89},
                                    {0.75, 0x35, 0xb7, 0x79},  {0.875, 0x6e, 0xce, 0x58}, {0.9375, 0xb5, 0xde, 0x2b},
                                    {1.0, 0xfd, 0xe7, 0x25}};
    std::array<std::array<uint8_t, 3>, 256> t{};
    for (int i = 0; i < 256; ++i) {
      const double x = i / 255.0;
      size_t k = 0;
      while (k + 2 < std::size(anchors) && x > anchors[k + 1].t) ++k;
      const A& a = anchors[k];
      const A& b = anchors[k + 1];
      const double f = std::clamp((x - a.t) / (b.t - a.t), 0.0, 1.0);
      auto mix = [f](int u, int v) { return static_cast<uint8_t>(std::lround(u + (v - u) * f)); };
      t[static_cast<size_t>(i)] = {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
    }
    return t;
  }();
  return table;
}

std::string hex_color(const std::array<uint8_t, 3>& rgb) {
  static const char* digits = "0123456789abcdef";
  std::string s = "#";
  for (uint8_t c : rgb) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

uint32_t crc32(std::string_view bytes, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t adler32(std::string_view bytes) {
  uint32_t a = 1, b = 0;
  for (unsigned char c : bytes) {
    a = (a + c) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

namespace {

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

void put_chunk(std::string& png, const char type[4], const std::string& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  std::string body(type, 4);
  body += data;
  png += body;
  put_be32(png, crc32(body));
}

}  // namespace

std::string encode_png_palette(std::span<const uint8_t> indices, int width, int height,
                               const std::array<std::array<uint8_t, 3>, 256>& palette) {
  DUQ_CHECK(width > 0 && height > 0 && indices.size() == static_cast<size_t>(width) * static_cast<size_t>(height));
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(width));
  put_be32(ihdr, static_cast<uint32_t>(height));
  ihdr += std::string("\x08\x03\x00\x00\x00", 5);  // 8-bit palette, deflate, filter 0, no interlace
  put_chunk(png, "IHDR", ihdr);
  std::string plte;
  for (const auto& c : palette) plte.append(reinterpret_cast<const char*>(c.data()), 3);
  put_chunk(png, "PLTE", plte);

  // Scanlines: filter byte 0 (none) + indices. Wrapped in zlib with stored (uncompressed) deflate blocks.
  std::string raw;
  raw.reserve(static_cast<size_t>(height) * (static_cast<size_t>(width) + 1));
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(indices.data()) + static_cast<size_t>(y) * width,
               static_cast<size_t>(width));
  }
  std::string z("\x78\x01", 2);
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    z += static_cast<char>(last ? 1 : 0);
    z += static_cast<char>(n & 0xff);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xff);
    z += static_cast<char>((~n >> 8) & 0xff);
    z.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  put_be32(z, adler32(raw));
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", "");
  return png;
}

std::string base64(std::string_view bytes) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? tbl[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace duq::eval
