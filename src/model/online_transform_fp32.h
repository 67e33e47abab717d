// A stored online transform (model::OnlineTransform, quant_model.h) in fp32, built by the transform layer:
// DuQuant's R₁·P₁·R₂… as a transform::DuQuantTransform and the randomized Hadamard as a
// transform::RandomizedHadamard. The integer engine runs through these the transforms no fused kernel takes
// (the Hadamard, per-block rotations); calibration's SiteTransform is rebuilt from a file by the same conversion,
// so one piece of code reads the stored form back into the transform layer's objects.
#pragma once
#include <functional>

#include "core/tensor.h"
#include "model/quant_model.h"
#include "transform/duquant_transform.h"

namespace duq::model {

// t (kind DuQuant) as the transform layer's DuQuantTransform over `width` columns, without the smoothing Λ
// (which OnlineTransform keeps apart and callers apply themselves).
transform::DuQuantTransform duquant_transform_of(const OnlineTransform& t, int64_t width);

// Builds x ↦ x·G in place for a stored transform of `width` columns (without Λ⁻¹, which the caller applies).
using TransformFactory = std::function<std::function<void(MatView)>(const OnlineTransform&, int64_t width)>;
// The factory of every kind the file format stores: DuQuant rotations (per-block ones included) and the
// randomized Hadamard, in fp32.
TransformFactory fp32_transform_factory();

}  // namespace duq::model
