// A calibration method is a pair: how each linear input x is transformed (x·G, with W·G⁻ᵀ folded into its
// consumers) × how the transformed weights are rounded to the integer grid. The strategy table in method.cc
// names every supported pair (the `--method` names: "duquant+gptq" = DuQuant's transform × GPTQ rounding)
// with its defaults; names are parsed and printed only there, so a new combination is one table row.
#pragma once
#include <span>
#include <string>
#include <vector>

namespace duq::calib {

// What is done to a linear input before its activations are quantized (spec §8).
enum class Transform {
  None,      // x as it is
  Smooth,    // SmoothQuant: x·Λ⁻¹ at the inputs that follow a norm (q/k/v, gate/up), Λ folded into the norms
  Rotation,  // QuaRot: a randomized Hadamard per input
  DuQuant,   // DuQuant: smoothing (all four inputs; --no-smooth: off), then the greedy rotations and zigzag
             // permutations R₁·P·R₂… searched on the input
  Auto,      // duquant-auto: per input one of none / DuQuant's smoothing / rotation / DuQuant, by output error
};

// How the transformed weights W·G⁻ᵀ are rounded (spec §5).
enum class Rounding {
  Float,            // not at all: the float model (method fp)
  Rtn,              // to nearest, per output row (groups of --group-size), clip --swc
  Gptq,             // GPTQ with the Hessian of the site's transformed input over all calibration windows
  AdaDim,           // to nearest with per-IC or per-OC groups, chosen per module (or per linear)
  AdaDimGptq,       // AdaDim's choice, then GPTQ (act-order)
  Lwc,              // per-row clips learned on the block's output once the block's transforms are fixed
  LearnedRotation,  // LWC jointly with an orthogonal block rotation after DuQuant's R₂ (folded into R₂)
  Auto,             // duquant-auto: per-row clip, and RTN or GPTQ per row, whichever lowers the layer error
};

// The grid the weights are rounded on: DuQuant's reference (asymmetric, clip --swc) or QuaRot's (symmetric
// over the full signed range, each row's clip found by GPTQ's MSE search).
enum class WeightGrid { Asymmetric, QuaRotSymmetric };

struct Method {
  Transform transform = Transform::DuQuant;
  Rounding rounding = Rounding::Rtn;
  bool operator==(const Method&) const = default;

  // The named pairs of the strategy table (the CLI names in the comments at their definitions below).
  static const Method Fp, Rtn, SmoothQuant, Rotation, DuQuant, RotationGptq, DuQuantGptq, DuQuantLwc, Gptq, AdaDim,
      AdaDimGptq, DuQuantAuto, DuQuantLearn;
};
inline constexpr Method Method::Fp{Transform::None, Rounding::Float};                         // fp
inline constexpr Method Method::Rtn{Transform::None, Rounding::Rtn};                          // rtn
inline constexpr Method Method::SmoothQuant{Transform::Smooth, Rounding::Rtn};                // smoothquant
inline constexpr Method Method::Rotation{Transform::Rotation, Rounding::Rtn};                 // rotation
inline constexpr Method Method::DuQuant{Transform::DuQuant, Rounding::Rtn};                   // duquant
inline constexpr Method Method::RotationGptq{Transform::Rotation, Rounding::Gptq};            // rotation+gptq
inline constexpr Method Method::DuQuantGptq{Transform::DuQuant, Rounding::Gptq};              // duquant+gptq
inline constexpr Method Method::DuQuantLwc{Transform::DuQuant, Rounding::Lwc};                // duquant+lwc
inline constexpr Method Method::Gptq{Transform::None, Rounding::Gptq};                        // gptq
inline constexpr Method Method::AdaDim{Transform::None, Rounding::AdaDim};                    // adadim
inline constexpr Method Method::AdaDimGptq{Transform::None, Rounding::AdaDimGptq};            // adadim+gptq
inline constexpr Method Method::DuQuantAuto{Transform::Auto, Rounding::Auto};                 // duquant-auto
inline constexpr Method Method::DuQuantLearn{Transform::DuQuant, Rounding::LearnedRotation};  // duquant+learn

// One row of the strategy table: a named method and the defaults that come with it.
struct MethodSpec {
  const char* name;  // the --method name (an alias of the pair)
  Method method;
  float alpha;  // default smoothing strength α where the transform smooths (--alpha overrides)
  WeightGrid grid;
};

// The strategy table, in the order the CLI lists the methods.
std::span<const MethodSpec> method_table();
// The row of a method (throws duq::Error for a pair the table does not name).
const MethodSpec& method_spec(Method m);

// "fp", "rtn", "smoothquant", "rotation", "duquant", "rotation+gptq", "duquant+gptq", "duquant+lwc", "gptq",
// "adadim", "adadim+gptq", "duquant-auto", "duquant+learn" (throws on anything else, listing the choices).
Method parse_method(const std::string& name);
std::string method_name(Method m);
std::vector<std::string> method_names();

}  // namespace duq::calib
