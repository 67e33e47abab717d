// Dispatch for per-token activation quantization and the fused transform (act_quant.h).
#include "kernels/act_quant.h"

#include "kernels/cpu_features.h"
#include "kernels/int_kernels_internal.h"

namespace duq::kernels {

namespace {

void run(detail::ActQuantArgs& a) {
  thread_local AlignedVector<float> scratch;
  const size_t need = detail::act_scratch_floats(a.k);
  if (scratch.size() < need) scratch.resize(need);
  a.scratch = scratch.data();
  switch (active_isa()) {
    case Isa::Avx512Vnni: detail::act_quant_avx512(a); break;
    case Isa::Avx2: detail::act_quant_avx2(a); break;
    default: detail::act_quant_ref(a); break;
  }
}

void prepare(ConstMatView x, int bits, float clip, QuantActs& out, detail::ActQuantArgs& a) {
  DUQ_CHECK(bits >= 2 && bits <= 8, "activation bits must be in [2, 8], got ", bits);
  DUQ_CHECK(clip > 0.f && clip <= 1.f, "clip ratio must be in (0, 1]");
  DUQ_CHECK(x.cols >= 1 && x.cols <= (int64_t{1} << 20), "activation K out of range: ", x.cols);
  out.bits = bits;
  out.rows = x.rows;
  out.cols = x.cols;
  out.cols_pad = (x.cols + kActKAlign - 1) / kActKAlign * kActKAlign;
  out.codes.resize(static_cast<size_t>(out.rows * out.cols_pad));
  out.scale.resize(static_cast<size_t>(out.rows));
  out.zero.resize(static_cast<size_t>(out.rows));
  out.sum.resize(static_cast<size_t>(out.rows));
  a.x = x.data;
  a.m = x.rows;
  a.k = x.cols;
  a.ldx = x.ld;
  a.bits = bits;
  a.clip = clip;
  a.codes = out.codes.data();
  a.k_pad = out.cols_pad;
  a.scale = out.scale.data();
  a.zero = out.zero.data();
  a.sum = out.sum.data();
}

void set_transform(const ActTransform& t, int64_t k, detail::ActQuantArgs& a) {
  DUQ_CHECK(!(t.r1 || t.r2) || t.block >= 1, "act transform: rotation needs block >= 1");
  a.transform = true;
  a.block = t.block;
  a.inv_scale = t.inv_scale;
  a.r1 = t.r1;
  a.r1_tail = t.r1_tail;
  a.perm = t.perm;
  a.r2 = t.r2;
  a.r2_tail = t.r2_tail;
  if (t.perm)
    for (int64_t j = 0; j < k; ++j) DUQ_CHECK(t.perm[j] >= 0 && t.perm[j] < k, "act transform: bad permutation");
}

}  // namespace

void quantize_acts(ConstMatView x, int bits, float clip, QuantActs& out) {
  detail::ActQuantArgs a;
  prepare(x, bits, clip, out, a);
  if (x.rows) run(a);
}

void transform_quantize_acts(ConstMatView x, const ActTransform& t, int bits, float clip, QuantActs& out) {
  detail::ActQuantArgs a;
  prepare(x, bits, clip, out, a);
  set_transform(t, x.cols, a);
  if (x.rows) run(a);
}

void apply_act_transform(ConstMatView x, const ActTransform& t, MatView y) {
  DUQ_CHECK(y.rows == x.rows && y.cols == x.cols, "apply_act_transform: shape");
  detail::ActQuantArgs a;
  a.x = x.data;
  a.m = x.rows;
  a.k = x.cols;
  a.ldx = x.ld;
  set_transform(t, x.cols, a);
  a.fout = y.data;
  a.ldf = y.ld;
  if (x.rows && x.cols) run(a);
}

Mat dequantize_acts(const QuantActs& q) {
  Mat out(q.rows, q.cols);
  for (int64_t m = 0; m < q.rows; ++m)
    for (int64_t k = 0; k < q.cols; ++k)
      out(m, k) = static_cast<float>(static_cast<int32_t>(q.row(m)[k]) - q.zero[m]) * q.scale[m];
  return out;
}

}  // namespace duq::kernels
