// GGUF metadata values: one C++ type per GGUF value type, held in a std::variant whose alternative index
// IS the GGUF type code (UINT8=0 … FLOAT64=12), so reading and writing never need a second table.
// Arrays hold one element type each (GGUF arrays are homogeneous); arrays of arrays, which the spec allows
// but ggml itself rejects, are not supported.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace duq::formats {

// The GGUF value type codes, exactly as stored in the file (uint32).
enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
inline constexpr uint32_t kGgufValueTypeCount = 13;

// "uint8", "int32", "float32", "bool", "string", "array", ... (the spec's names, lower case).
std::string_view gguf_type_name(GgufValueType t);

// A homogeneous array: alternative index = element type code. Index 9 (ARRAY) is a placeholder that never
// holds a value: nested arrays are rejected on read and cannot be built.
using GgufArrayVariant = std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                                      std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                                      std::vector<float>, std::vector<bool>, std::vector<std::string>, std::monostate,
                                      std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>>;

struct GgufArray {
  GgufArrayVariant v;
  GgufValueType elem_type() const { return static_cast<GgufValueType>(v.index()); }
  size_t size() const;
  bool operator==(const GgufArray&) const = default;
};

using GgufValueVariant = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                                      GgufArray, uint64_t, int64_t, double>;

namespace detail {
template <class T, class V>
struct is_alternative;
template <class T, class... Ts>
struct is_alternative<T, std::variant<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};
template <class T, size_t I = 0>
constexpr size_t variant_index() {
  if constexpr (I == std::variant_size_v<GgufValueVariant>) return I;
  else if constexpr (std::is_same_v<std::variant_alternative_t<I, GgufValueVariant>, T>) return I;
  else return variant_index<T, I + 1>();
}
}  // namespace detail

// A scalar or string GGUF type (an array element type).
template <class T>
concept GgufScalar = detail::is_alternative<T, GgufValueVariant>::value && !std::is_same_v<T, GgufArray>;

// The GGUF type code of C++ type T: gguf_type_of<uint32_t>() == GgufValueType::U32.
template <GgufScalar T>
constexpr GgufValueType gguf_type_of() {
  return static_cast<GgufValueType>(detail::variant_index<T>());
}

// One metadata value. Constructed from exactly-typed C++ values, so the GGUF type is never a guess:
//   GgufValue(uint32_t{7}) is UINT32, GgufValue(7) is INT32, GgufValue("x") is STRING,
//   GgufValue(std::vector<float>{...}) is ARRAY of FLOAT32.
class GgufValue {
 public:
  GgufValue() = default;  // UINT8 0; only so containers can default-construct
  template <GgufScalar T>
  GgufValue(T x) : v_(std::move(x)) {}
  GgufValue(const char* s) : v_(std::string(s)) {}
  GgufValue(std::string_view s) : v_(std::string(s)) {}
  GgufValue(GgufArray a) : v_(std::move(a)) {}
  template <GgufScalar T>
  GgufValue(std::vector<T> xs) : v_(GgufArray{GgufArrayVariant(std::move(xs))}) {}
  GgufValue(std::vector<const char*> xs) : GgufValue(std::vector<std::string>(xs.begin(), xs.end())) {}

  GgufValueType type() const { return static_cast<GgufValueType>(v_.index()); }
  // For an ARRAY, its element type; otherwise the value's own type.
  GgufValueType elem_type() const { return is_array() ? array().elem_type() : type(); }
  bool is_array() const { return type() == GgufValueType::Array; }
  // "uint32", "string", "array of float32"
  std::string type_name() const;

  template <class T>
  bool is() const {
    return std::holds_alternative<T>(v_);
  }
  // Null when the value is not exactly a T.
  template <class T>
  const T* get_if() const {
    return std::get_if<T>(&v_);
  }
  // Null unless the value is an array of exactly T.
  template <GgufScalar T>
  const std::vector<T>* get_array_if() const {
    const GgufArray* a = get_if<GgufArray>();
    return a ? std::get_if<std::vector<T>>(&a->v) : nullptr;
  }
  const GgufArray& array() const;  // the value must be an array (DUQ_CHECK)
  const GgufValueVariant& variant() const { return v_; }

  // Short human-readable form for messages and dumps: 7, -1.5, "text", [1, 2, 3], ["a", "b", … (1000 more)].
  std::string to_string() const;

  bool operator==(const GgufValue&) const = default;

 private:
  GgufValueVariant v_;
};

}  // namespace duq::formats
