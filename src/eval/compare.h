// Several models on the same evaluation windows in one pass: perplexity of each, and the mean KL
// divergence KL(P_float ‖ P_model) per scored token against the float model's next-token distribution.
// Windows and scored positions follow the perplexity protocol (eval/perplexity.h).
#pragma once
#include <span>
#include <string>
#include <vector>

#include "eval/perplexity.h"

namespace duq::eval {

struct CompareResult {
  double ppl = 0, nll = 0, ppl_stderr = 0;
  double kld = 0;         // mean KL(P_fp ‖ P_model) in nats (0 for the float model itself)
  double top1_agree = 0;  // fraction of scored positions whose argmax equals the float model's
  long scored = 0;
  double seconds = 0;  // time spent running this model
};

// reference: the float model; models: the others. Result [0] is the reference, then one per model.
std::vector<CompareResult> compare_models(std::span<const int> tokens, int bos_id, const WindowLogitsFn& reference,
                                          const std::vector<WindowLogitsFn>& models, const PplOptions& opt);

// log-softmax of a logits row [V] into out [V] (double accumulation).
void log_softmax(std::span<const float> logits, std::span<double> out);

}  // namespace duq::eval
