#include "calib/auto_report.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace duq::calib {

std::string auto_choices_table(const QuantizedModel& qm) {
  if (!qm.opts.is_auto() || !qm.hooks) return "";
  std::string out = "duquant-auto choices (transform @ activation clip; weight clip per row: mean / min):\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-5s  %-16s %-16s %-16s %-16s %-7s %s\n", "layer", "attn_in", "attn_out", "ffn_in",
                "down_in", "qk clip", "weight clip");
  out += buf;
  std::map<std::string, int> count;
  for (int l = 0; l < qm.cfg.n_layers; ++l) {
    std::snprintf(buf, sizeof buf, "%-5d", l);
    out += buf;
    for (const SiteTransform& st : qm.hooks->sites()[static_cast<size_t>(l)]) {
      ++count[st.choice];
      if (st.act_clip > 0) std::snprintf(buf, sizeof buf, "  %-9s @%-4.2f", st.choice.c_str(), st.act_clip);
      else std::snprintf(buf, sizeof buf, "  %-15s", st.choice.c_str());
      out += buf;
    }
    double sum = 0, n = 0;
    float mn = 1.f;
    if (static_cast<size_t>(l) < qm.codes.size())
      for (const auto& rc : qm.codes[static_cast<size_t>(l)].row_clip)
        for (float c : rc) sum += c, n += 1, mn = std::min(mn, c);
    if (n > 0) std::snprintf(buf, sizeof buf, "   %-7.2f %.3f / %.2f\n", qm.hooks->qk_clip(l), sum / n, mn);
    else std::snprintf(buf, sizeof buf, "   %-7.2f -\n", qm.hooks->qk_clip(l));
    out += buf;
  }
  out += "transforms:";
  for (const auto& [name, k] : count) out += " " + name + " " + std::to_string(k);
  return out + "\n";
}

}  // namespace duq::calib
