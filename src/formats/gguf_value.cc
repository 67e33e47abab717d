#include "formats/gguf_value.h"

#include <sstream>

#include "core/error.h"

namespace duq::formats {

std::string_view gguf_type_name(GgufValueType t) {
  static constexpr std::string_view kNames[kGgufValueTypeCount] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                                                   "int32",  "float32", "bool",   "string", "array",
                                                                   "uint64", "int64",   "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < kGgufValueTypeCount ? kNames[i] : std::string_view("unknown");
}

size_t GgufArray::size() const {
  return std::visit(
      [](const auto& xs) -> size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(xs)>, std::monostate>) return 0;
        else return xs.size();
      },
      v);
}

const GgufArray& GgufValue::array() const {
  DUQ_CHECK(is_array(), "GGUF value of type ", gguf_type_name(type()), " is not an array");
  return std::get<GgufArray>(v_);
}

std::string GgufValue::type_name() const {
  if (!is_array()) return std::string(gguf_type_name(type()));
  return "array of " + std::string(gguf_type_name(array().elem_type()));
}

namespace {

void put_scalar(std::ostringstream& os, const auto& x) {
  using T = std::decay_t<decltype(x)>;
  if constexpr (std::is_same_v<T, std::string>) {
    os << '"';
    for (char c : x.substr(0, 80)) os << (c == '"' || c == '\\' ? "\\" : "") << c;
    if (x.size() > 80) os << "…";
    os << '"';
  } else if constexpr (std::is_same_v<T, bool>) {
    os << (x ? "true" : "false");
  } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
    os << static_cast<int>(x);
  } else {
    os << x;
  }
}

}  // namespace

std::string GgufValue::to_string() const {
  std::ostringstream os;
  os.precision(9);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, GgufArray>) {
          std::visit(
              [&](const auto& xs) {
                using V = std::decay_t<decltype(xs)>;
                if constexpr (!std::is_same_v<V, std::monostate>) {
                  constexpr size_t kShown = 8;
                  os << '[';
                  for (size_t i = 0; i < xs.size() && i < kShown; ++i) {
                    if (i) os << ", ";
                    put_scalar(os, static_cast<typename V::value_type>(xs[i]));
                  }
                  if (xs.size() > kShown) os << ", … (" << xs.size() - kShown << " more)";
                  os << ']';
                }
              },
              x.v);
        } else {
          put_scalar(os, x);
        }
      },
      v_);
  return os.str();
}

}  // namespace duq::formats
