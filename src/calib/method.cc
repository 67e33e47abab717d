#include "calib/method.h"

#include <array>

#include "core/error.h"

namespace duq::calib {

namespace {

// SmoothQuant's default and the authors' LWC script (duquant+lwc, and duquant+learn built on it) use α 0.5;
// DuQuant's other scripts 0.6 (methods without smoothing never read it).
constexpr float kAlphaSmoothQuant = 0.5f, kAlphaDuQuant = 0.6f;

constexpr std::array<MethodSpec, 13> kMethods{{
    {"fp", Method::Fp, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"rtn", Method::Rtn, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"smoothquant", Method::SmoothQuant, kAlphaSmoothQuant, WeightGrid::Asymmetric},
    {"rotation", Method::Rotation, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"duquant", Method::DuQuant, kAlphaDuQuant, WeightGrid::Asymmetric},
    // QuaRot-GPTQ as QuaRot runs it: symmetric grid, per-row MSE clip instead of --swc.
    {"rotation+gptq", Method::RotationGptq, kAlphaDuQuant, WeightGrid::QuaRotSymmetric},
    {"duquant+gptq", Method::DuQuantGptq, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"duquant+lwc", Method::DuQuantLwc, kAlphaSmoothQuant, WeightGrid::Asymmetric},
    {"gptq", Method::Gptq, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"adadim", Method::AdaDim, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"adadim+gptq", Method::AdaDimGptq, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"duquant-auto", Method::DuQuantAuto, kAlphaDuQuant, WeightGrid::Asymmetric},
    {"duquant+learn", Method::DuQuantLearn, kAlphaSmoothQuant, WeightGrid::Asymmetric},
}};

const MethodSpec* find(Method m) {
  for (const MethodSpec& s : kMethods)
    if (s.method == m) return &s;
  return nullptr;
}

}  // namespace

std::span<const MethodSpec> method_table() { return kMethods; }

const MethodSpec& method_spec(Method m) {
  const MethodSpec* s = find(m);
  if (!s)
    fail("no method pairs transform ", static_cast<int>(m.transform), " with rounding ", static_cast<int>(m.rounding));
  return *s;
}

Method parse_method(const std::string& name) {
  for (const MethodSpec& s : kMethods)
    if (name == s.name) return s.method;
  std::string all;
  for (const auto& m : method_names()) all += (all.empty() ? "" : ", ") + m;
  fail("unknown method '", name, "' (choose from ", all, ")");
}

std::string method_name(Method m) {
  const MethodSpec* s = find(m);
  return s ? s->name : "?";
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  names.reserve(kMethods.size());
  for (const MethodSpec& s : kMethods) names.emplace_back(s.name);
  return names;
}

}  // namespace duq::calib
