#include "tools/simulated_runner.h"

#include <memory>

#include "calib/export.h"

namespace duq::tools {

void set_simulated(Runner& r, model::QuantModelData& data) {
  model::widen_tables(data);  // the simulation multiplies f32 tables; weight-only (A16) files come here read as stored
  auto sim = std::make_shared<calib::QuantizedModel>(calib::simulated_from_file(data));
  r.kind =
      "simulated W" + std::to_string(data.q.wbits) + "A" + std::to_string(data.q.abits) + " (" + data.q.method + ")";
  r.forward = [sim](std::span<const int> t, int pos, model::KVCache& c, bool last) {
    return sim->forward(t, pos, c, last);
  };
  r.forward_batch = [sim](std::span<const model::SeqChunk> ch) {
    return sim->model->forward_batch(ch, sim->hooks.get());
  };
  r.extend = [sim](int n) { sim->model->set_max_seq_len(n); };
  r.keep = sim;
}

}  // namespace duq::tools
