#include "model/online_transform_fp32.h"

#include <memory>

#include "core/error.h"
#include "transform/hadamard.h"

namespace duq::model {

transform::DuQuantTransform duquant_transform_of(const OnlineTransform& t, int64_t width) {
  DUQ_CHECK(t.kind == OnlineTransform::Kind::DuQuant, "duquant_transform_of: not a DuQuant transform");
  transform::DuQuantTransform dq;
  for (const auto& r : t.rotations) {
    transform::BlockRotation br;
    br.dim = width;
    br.block = r.block;
    br.full = r.full;
    br.per_block = r.per_block;
    br.tail = r.tail;
    dq.rotations.push_back(std::move(br));
  }
  for (const auto& p : t.perms) dq.perms.emplace_back(p.begin(), p.end());
  return dq;
}

TransformFactory fp32_transform_factory() {
  return [](const OnlineTransform& t, int64_t width) -> std::function<void(MatView)> {
    if (t.kind == OnlineTransform::Kind::DuQuant) {  // R₁·P₁·R₂… in fp32 (Λ⁻¹ is the caller's)
      auto dq = std::make_shared<const transform::DuQuantTransform>(duquant_transform_of(t, width));
      return [dq](MatView x) { dq->apply(x); };
    }
    if (t.kind == OnlineTransform::Kind::Hadamard) {
      auto h = std::make_shared<const transform::RandomizedHadamard>(width, t.hadamard_seed);
      return [h](MatView x) { h->apply_rows(x); };
    }
    return nullptr;  // Kind::None: nothing to apply
  };
}

}  // namespace duq::model
