#include "eval/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "eval/perplexity.h"

namespace duq::eval {

void log_softmax(std::span<const float> logits, std::span<double> out) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  const double lse = std::log(sum) + mx;
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - lse;
}

std::vector<CompareResult> compare_models(std::span<const int> tokens, int bos_id, const WindowLogitsFn& reference,
                                          const std::vector<WindowLogitsFn>& models, const PplOptions& opt) {
  if (opt.ctx < 2) fail("--ctx must be at least 2 (got ", opt.ctx, ")");
  long n_windows = static_cast<long>(tokens.size()) / opt.ctx;
  if (n_windows == 0) fail("the text has ", tokens.size(), " tokens, fewer than one window of --ctx ", opt.ctx);
  if (opt.max_windows > 0) n_windows = std::min<long>(n_windows, opt.max_windows);
  const int first = opt.protocol == Protocol::Paper ? 0 : opt.ctx / 2;
  const size_t n = models.size() + 1;
  std::vector<CompareResult> res(n);
  std::vector<double> sum(n, 0), sum_sq(n, 0);
  std::vector<int> win(static_cast<size_t>(opt.ctx));
  std::vector<double> lp_ref, lp;
  Progress prog("evaluating " + std::to_string(n) + " models", n_windows, opt.progress);
  using Clock = std::chrono::steady_clock;
  for (long w = 0; w < n_windows; ++w) {
    std::copy_n(tokens.begin() + w * opt.ctx, opt.ctx, win.begin());
    if (opt.protocol == Protocol::LlamaCpp) win[0] = bos_id;
    auto t0 = Clock::now();
    Mat ref = reference(win);
    res[0].seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    const size_t V = static_cast<size_t>(ref.cols());
    lp_ref.resize(V);
    lp.resize(V);
    // Reference log-probabilities of every scored row, computed once.
    std::vector<std::vector<double>> ref_rows;
    std::vector<int> ref_top;
    for (int i = first; i < opt.ctx - 1; ++i) {
      log_softmax({ref.row(i), V}, lp_ref);
      const double nll = -lp_ref[static_cast<size_t>(win[static_cast<size_t>(i) + 1])];
      if (!std::isfinite(nll)) fail("the float model's logits are not finite in window ", w);
      sum[0] += nll;
      sum_sq[0] += nll * nll;
      ref_rows.push_back(lp_ref);
      ref_top.push_back(static_cast<int>(std::max_element(ref.row(i), ref.row(i) + V) - ref.row(i)));
    }
    res[0].scored += opt.ctx - 1 - first;
    for (size_t m = 0; m < models.size(); ++m) {
      auto t1 = Clock::now();
      Mat out = models[m](win);
      res[m + 1].seconds += std::chrono::duration<double>(Clock::now() - t1).count();
      for (int i = first; i < opt.ctx - 1; ++i) {
        log_softmax({out.row(i), V}, lp);
        const auto& pr = ref_rows[static_cast<size_t>(i - first)];
        const double nll = -lp[static_cast<size_t>(win[static_cast<size_t>(i) + 1])];
        if (!std::isfinite(nll)) fail("model ", m + 1, " produced non-finite logits in window ", w, " position ", i);
        sum[m + 1] += nll;
        sum_sq[m + 1] += nll * nll;
        double kl = 0;
        for (size_t v = 0; v < V; ++v) kl += std::exp(pr[v]) * (pr[v] - lp[v]);
        res[m + 1].kld += kl;
        const int top = static_cast<int>(std::max_element(out.row(i), out.row(i) + V) - out.row(i));
        res[m + 1].top1_agree += top == ref_top[static_cast<size_t>(i - first)];
      }
      res[m + 1].scored += opt.ctx - 1 - first;
    }
    prog.update(w + 1);
  }
  prog.finish();
  for (size_t m = 0; m < n; ++m) {
    CompareResult& r = res[m];
    const double cnt = static_cast<double>(r.scored);
    r.nll = sum[m] / cnt;
    r.ppl = std::exp(r.nll);
    const double var = std::max(0.0, sum_sq[m] / cnt - r.nll * r.nll);
    r.ppl_stderr = r.ppl * std::sqrt(var / std::max(1.0, cnt - 1));
    if (m == 0) {
      r.kld = 0;
      r.top1_agree = 1;
    } else {
      r.kld /= cnt;
      r.top1_agree /= cnt;
    }
    check_finite_ppl(r.ppl, r.nll, m == 0 ? std::string("the float model") : "model " + std::to_string(m));
    if (!std::isfinite(r.kld)) fail("the KL divergence of model ", m, " is not finite");
  }
  return res;
}

}  // namespace duq::eval
