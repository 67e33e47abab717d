#include "quant/adadim.h"

namespace duq::quant {

AdaDimResult adadim_quantize(ConstMatView w, const Hessian& h, const QuantSpec& spec, bool gptq,
                             const GptqOptions& opts, const std::array<const Hessian*, 2>* folds) {
  AdaDimResult res;
  Mat deq(w.rows, w.cols);
  QuantizedMat best;
  for (Axis axis : {Axis::kRow, Axis::kColumn}) {
    QuantSpec s = spec;
    s.axis = axis;
    QuantizedMat q = gptq ? gptq_quantize(w, h, s, opts) : quantize(w, s);
    double e = 0;
    if (gptq && folds) {
      for (int f = 0; f < 2; ++f) {
        dequantize(gptq_quantize(w, *(*folds)[static_cast<size_t>(f)], s, opts), deq);
        e += (*folds)[static_cast<size_t>(1 - f)]->output_error(w, deq);
      }
    } else {
      dequantize(q, deq);
      e = h.output_error(w, deq);
    }
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
