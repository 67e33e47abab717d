#include "quant/adadim.h"

namespace duq::quant {

AdaDimResult adadim_quantize(ConstMatView w, const Hessian& h, const QuantSpec& spec, bool gptq,
                             const GptqOptions& opts) {
  AdaDimResult res;
  Mat deq(w.rows, w.cols);
  QuantizedMat best;
  for (Axis axis : {Axis::kRow, Axis::kColumn}) {
    QuantSpec s = spec;
    s.axis = axis;
    QuantizedMat q = gptq ? gptq_quantize(w, h, s, opts) : quantize(w, s);
    dequantize(q, deq);
    const double e = h.output_error(w, deq);
    if (axis == Axis::kRow) {
      res.error_oc = e;
      res.q = std::move(q);
    } else {
      res.error_ic = e;
      if (e < res.error_oc) res.q = std::move(q);
    }
  }
  return res;
}

}  // namespace duq::quant
