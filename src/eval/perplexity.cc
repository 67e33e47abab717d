#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"

namespace duq::eval {

double token_nll(std::span<const float> logits, int target) {
  DUQ_CHECK(target >= 0 && static_cast<size_t>(target) < logits.size());
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  const double v = std::log(sum) + mx - logits[static_cast<size_t>(target)];
  if (!std::isfinite(v)) fail("logits are NaN or Inf: the model's output is not finite");
  return v;
}

void check_finite_ppl(double ppl, double nll, const std::string& what) {
  if (!std::isfinite(ppl) || !std::isfinite(nll))
    fail("the perplexity of ", what, " is not finite (mean negative log-likelihood ", nll,
         " per token): its predictions are degenerate — a damaged or badly quantized model");
}

PplResult perplexity(std::span<const int> tokens, int bos_id, const WindowLogitsFn& run, const PplOptions& opt) {
  if (opt.ctx < 2) fail("--ctx must be at least 2 (got ", opt.ctx, ")");
  if (opt.protocol == Protocol::LlamaCpp && opt.ctx < 3)
    fail("--ctx must be at least 3 with --protocol llamacpp (it scores the second half of each window; got ", opt.ctx,
         ")");
  PplResult r;
  r.tokens_total = static_cast<long>(tokens.size());
  long n_windows = static_cast<long>(tokens.size()) / opt.ctx;
  if (n_windows == 0) fail("the text has ", tokens.size(), " tokens, fewer than one window of --ctx ", opt.ctx);
  if (opt.max_windows > 0) n_windows = std::min<long>(n_windows, opt.max_windows);
  r.windows = n_windows;
  const int first_scored = opt.protocol == Protocol::Paper ? 0 : opt.ctx / 2;  // prediction index
  double sum = 0, sum_sq = 0;
  Progress prog("perplexity", n_windows, opt.progress);
  Timer timer;
  std::vector<int> win(static_cast<size_t>(opt.ctx));
  for (long w = 0; w < n_windows; ++w) {
    std::copy_n(tokens.begin() + w * opt.ctx, opt.ctx, win.begin());
    if (opt.protocol == Protocol::LlamaCpp) win[0] = bos_id;
    Mat logits = run(win);
    DUQ_CHECK(logits.rows() == opt.ctx);
    double wsum = 0;
    long wn = 0;
    // Position i predicts token i+1.
    for (int i = first_scored; i < opt.ctx - 1; ++i) {
      const double nll =
          token_nll({logits.row(i), static_cast<size_t>(logits.cols())}, win[static_cast<size_t>(i) + 1]);
      wsum += nll;
      sum_sq += nll * nll;
      ++wn;
    }
    sum += wsum;
    r.scored += wn;
    r.window_nll.push_back(wsum / static_cast<double>(wn));
    prog.update(w + 1, "ppl " + std::to_string(std::exp(sum / static_cast<double>(r.scored))));
  }
  prog.finish();
  r.seconds = timer.seconds();
  r.tokens_per_second = static_cast<double>(n_windows * opt.ctx) / std::max(r.seconds, 1e-9);
  r.nll = sum / static_cast<double>(r.scored);
  r.ppl = std::exp(r.nll);
  const double n = static_cast<double>(r.scored);
  const double var = std::max(0.0, sum_sq / n - r.nll * r.nll);
  r.ppl_stderr = r.ppl * std::sqrt(var / std::max(1.0, n - 1));
  check_finite_ppl(r.ppl, r.nll, "the model");
  return r;
}

}  // namespace duq::eval
