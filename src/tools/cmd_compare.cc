// duquant compare: quantize a model with several methods × bit settings on the same calibration data and
// report perplexity and KL divergence to the float model on the same evaluation windows, one table.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <unistd.h>

#include "calib/auto_report.h"
#include "calib/pipeline.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "eval/compare.h"
#include "eval/tasks/run.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"
#include "tools/quant_file.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;

struct CompareOpts {
  ModelArgs m;
  QuantArgs q;
  std::string text;
  std::string methods = "fp,rtn,smoothquant,rotation,duquant";
  std::string bits = "W4A4,W4A8,W6A6,W8A8";
  std::string seeds;  // extra seeds for methods with random draws (rotation, duquant)
  std::string seed_bits = "W4A4";
  int ctx = 0, max_windows = 0;
  bool json = false;
  std::string tasks, task_data;  // --tasks piqa,… --task-data PATH: lm-eval task columns (eval/tasks)
  long task_limit = 0;
  int task_batch_size = 16;               // documents scored together (as eval --batch-size)
  std::string task_engine = "simulated";  // how quantized rows are scored: from their file, simulated or integer
};

struct Row {
  std::string method;
  int wbits, abits;
  uint64_t seed;
  bool seeded;
  double calib_seconds;
  std::string note;      // AdaDim's choices, LWC's loss
  std::string settings;  // the row's full settings line (QuantOptions::describe)
};

std::string rounding_note(const calib::QuantizedModel& qm) {
  std::string n;
  if (qm.opts.uses_adadim() && qm.adadim_linears > 0)
    n = "per-IC groups for " + std::to_string(qm.adadim_per_ic) + " of " + std::to_string(qm.adadim_linears) +
        " linears";
  if (qm.opts.uses_lwc() && qm.opts.wbits != calib::kNoQuant) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "LWC block loss (sum over blocks) %.5g -> %.5g", qm.lwc_loss_first,
                  qm.lwc_loss_last);
    n = buf;
  }
  if (qm.opts.is_auto() && qm.hooks) {
    std::map<std::string, int> count;
    for (const auto& layer : qm.hooks->sites())
      for (const auto& st : layer) ++count[st.choice];
    n = "inputs:";
    for (const auto& [name, k] : count) n += " " + name + " " + std::to_string(k);
    if (qm.auto_rows > 0)
      n += "; GPTQ rounding for " + std::to_string(qm.auto_gptq_rows) + " of " + std::to_string(qm.auto_rows) +
           " weight rows";
  }
  if (qm.opts.norm_tweak) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "norm tweak block loss (sum over blocks) %.5g -> %.5g", qm.norm_tweak_loss_before,
                  qm.norm_tweak_loss_after);
    n += (n.empty() ? "" : "; ") + std::string(buf);
  }
  return n;
}

void run_compare(const CompareOpts& o, const CLI::App& app) {
  require_regular_file(o.q.calib_file, "calibration text");
  require_regular_file(o.text, "text file");
  auto src = model::open_weights(o.m.model);
  if (app.count("--calib-ctx")) allow_context(*src, o.q.o.calib_ctx, "--calib-ctx " + std::to_string(o.q.o.calib_ctx));
  if (o.ctx > 0) allow_context(*src, o.ctx, "--ctx " + std::to_string(o.ctx));
  const auto& cfg = src->config();
  auto tok = load_tokenizer_for(o.m, cfg);
  calib::QuantOptions base = o.q.resolve(app, cfg.max_seq_len);
  const int ctx = o.ctx > 0 ? o.ctx : std::min(cfg.max_seq_len, 2048);
  if (ctx > cfg.max_seq_len) fail("--ctx ", ctx, " exceeds the model's maximum context of ", cfg.max_seq_len);

  std::vector<calib::Method> methods;
  for (auto& name : split_list(o.methods)) methods.push_back(parse_method_option(name, "--methods"));
  std::vector<std::pair<int, int>> bits;
  for (auto& b : split_list(o.bits)) bits.push_back(parse_bits(b, "--bits"));
  std::vector<uint64_t> seeds = {base.seed};
  for (uint64_t v : parse_u64_list(o.seeds, "--seeds"))
    if (v != base.seed) seeds.push_back(v);
  const auto seed_bits = parse_bits(o.seed_bits, "--seed-bits");
  if (methods.empty()) fail("--methods: no method given");
  if (bits.empty()) fail("--bits: no bit setting given");

  auto windows = calibration_windows(o.q, base, *tok);
  const std::string text = read_text_file(o.text);
  std::vector<int> tokens = tok->encode(text, true, false);

  calib::QuantizedModel fp = calib::float_model(*src);
  std::vector<calib::QuantizedModel> quantized;
  std::vector<Row> rows;
  for (auto method : methods) {
    if (method == calib::Method::Fp) continue;
    for (auto [wb, ab] : bits) {
      calib::QuantOptions probe = base;
      probe.method = method;
      const bool random = probe.duquant_transform() || probe.rotation_transform() || probe.is_auto();
      for (uint64_t seed : seeds) {
        if (seed != base.seed && (!random || std::make_pair(wb, ab) != seed_bits)) continue;
        calib::QuantOptions q = base;
        q.method = method;
        q.wbits = wb;
        q.abits = ab;
        q.seed = seed;
        q.validate();
        if (base.progress) std::fprintf(stderr, "%s\n", q.describe().c_str());
        quantized.push_back(calib::quantize_model(*src, windows, q));
        if (base.progress && q.is_auto())
          std::fprintf(stderr, "%s", calib::auto_choices_table(quantized.back()).c_str());
        rows.push_back({calib::method_name(method), wb, ab, seed, random, quantized.back().calib_seconds,
                        rounding_note(quantized.back()), q.describe()});
      }
    }
  }

  eval::PplOptions po;
  po.ctx = ctx;
  po.max_windows = o.max_windows;
  po.progress = base.progress;
  model::KVCache cache(cfg, ctx);
  std::vector<eval::WindowLogitsFn> fns;
  fns.reserve(quantized.size());
  for (auto& qm : quantized) fns.push_back([&qm, &cache](std::span<const int> w) { return qm.forward(w, 0, cache); });
  auto res = eval::compare_models(
      tokens, tok->bos_id(), [&](std::span<const int> w) { return fp.forward(w, 0, cache); }, fns, po);

  // Task columns: every model (fp first) through the same tasks with eval's scorer.
  std::vector<std::vector<eval::tasks::Metric>> task_metrics;
  if (!o.tasks.empty()) {
    if (o.task_data.empty()) fail("--tasks needs --task-data (the tasks' data, as for eval --data)");
    if (o.task_limit < 0) fail("--task-limit must be 0 (all) or positive (got ", o.task_limit, ")");
    std::vector<eval::tasks::Task> tasks;
    const auto names = split_list(o.tasks);
    for (auto& n : names) {
      std::filesystem::path p = o.task_data;
      if (names.size() > 1 || std::filesystem::exists(p / n)) p /= n;
      tasks.push_back(eval::tasks::load_task(n, p));
    }
    eval::tasks::RunOptions ro;
    ro.limit = o.task_limit;
    ro.batch_size = o.task_batch_size;
    ro.progress = base.progress;
    auto score = [&](const eval::tasks::BatchForwardFn& fwd) {
      return eval::tasks::evaluate_tasks(tasks, *tok, fwd, cfg, cfg.max_seq_len, ro);
    };
    auto in_memory = [](const calib::QuantizedModel& qm) -> eval::tasks::BatchForwardFn {
      return [&qm](std::span<const model::SeqChunk> ch) { return qm.forward_batch(ch); };
    };
    task_metrics.push_back(score(in_memory(fp)));
    // Each quantized row is scored on the file `quantize` writes with the same settings (default tables,
    // tokenizer embedded), run by the engine `eval` would use on it: the columns equal `eval [--simulate]` on
    // that file. A model the file cannot hold (grouped, per-IC) is scored in memory and its row says so.
    const TableTypes types = resolve_table_types(model::table_type_name(model::kDefaultEmbedType),
                                                 model::table_type_name(model::kDefaultOutputType), false, cfg,
                                                 /*notes=*/false);
    for (size_t i = 0; i < quantized.size(); ++i) {
      const auto& qm = quantized[i];
      if (std::string why; !file_can_hold(qm.opts, &why)) {
        rows[i].note += std::string(rows[i].note.empty() ? "" : "; ") + "tasks scored in memory (no quantized file)";
        task_metrics.push_back(score(in_memory(qm)));
        continue;
      }
      const fs::path file = fs::temp_directory_path() /
                            ("duquant-compare-" + std::to_string(::getpid()) + "-" + std::to_string(i) + ".gguf");
      struct Remove {
        fs::path p;
        ~Remove() {
          std::error_code ec;
          fs::remove(p, ec);
        }
      } remove_after{file};
      write_quantized_file(qm, tokenizer_file_for(o.m, cfg), types, file.string(), Replace::No);
      Runner run = load_runner(ModelArgs{file.string(), o.m.tokenizer}, o.task_engine == "simulated");
      task_metrics.push_back(score(run.forward_batch));
    }
  }
  auto task_json = [&](size_t i) {
    nlohmann::json t = nlohmann::json::object();
    for (auto& m : task_metrics[i]) {
      t[m.key][m.metric + ",none"] = m.value;
      t[m.key][m.metric + "_stderr,none"] = m.stderr_;
    }
    return t;
  };
  auto task_cells = [&](size_t i) {
    std::string s;
    char buf[64];
    for (auto& m : task_metrics[i]) {
      if (m.key.find('_') != std::string::npos && m.key.rfind("arc_", 0) != 0) continue;  // MMLU subjects/categories
      std::snprintf(buf, sizeof buf, " %16.4f", m.value);
      s += buf;
    }
    return s;
  };
  std::string task_header;
  if (!task_metrics.empty())
    for (auto& m : task_metrics[0])
      if (m.key.find('_') == std::string::npos || m.key.rfind("arc_", 0) == 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %16s", (m.key + " " + m.metric).substr(0, 16).c_str());
        task_header += buf;
      }

  if (o.json) {
    nlohmann::json j;
    j["model"] = o.m.model;
    j["calib"] = o.q.calib_file;
    j["text"] = o.text;
    j["ctx"] = ctx;
    j["windows"] = res[0].scored / std::max(1, ctx - 1);
    j["scored"] = res[0].scored;
    j["settings"] = base.describe();
    j["rows"].push_back({{"method", "fp"},
                         {"wbits", 16},
                         {"abits", 16},
                         {"ppl", res[0].ppl},
                         {"ppl_stderr", res[0].ppl_stderr},
                         {"kld", 0.0},
                         {"top1", 1.0},
                         {"calib_seconds", 0.0}});
    if (!task_metrics.empty()) j["rows"].back()["tasks"] = task_json(0);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = res[i + 1];
      nlohmann::json row = {{"method", rows[i].method},   {"wbits", rows[i].wbits},
                            {"abits", rows[i].abits},     {"ppl", r.ppl},
                            {"ppl_stderr", r.ppl_stderr}, {"kld", r.kld},
                            {"top1", r.top1_agree},       {"calib_seconds", rows[i].calib_seconds}};
      if (rows[i].seeded) row["seed"] = rows[i].seed;
      if (!rows[i].note.empty()) row["note"] = rows[i].note;
      row["settings"] = rows[i].settings;
      if (!task_metrics.empty()) row["tasks"] = task_json(i + 1);
      j["rows"].push_back(row);
    }
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("%s on %s: ctx %d, %ld tokens scored; calibration %zu × %d tokens from %s\n", o.m.model.c_str(),
              o.text.c_str(), ctx, res[0].scored, windows.size(), base.calib_ctx, o.q.calib_file.c_str());
  std::printf("%-13s %-6s %5s %10s %9s %9s %7s %9s%s\n", "method", "bits", "seed", "ppl", "±", "kld", "top1", "calib s",
              task_header.c_str());
  std::printf("%-13s %-6s %5s %10.4f %9.4f %9.5f %7.4f %9.2f%s\n", "fp", "W16A16", "", res[0].ppl, res[0].ppl_stderr,
              0.0, 1.0, 0.0, task_metrics.empty() ? "" : task_cells(0).c_str());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = res[i + 1];
    std::string b = "W" + std::to_string(rows[i].wbits) + "A" + std::to_string(rows[i].abits);
    std::string sd = rows[i].seeded ? std::to_string(rows[i].seed) : "";
    std::printf("%-13s %-6s %5s %10.4f %9.4f %9.5f %7.4f %9.2f%s%s%s\n", rows[i].method.c_str(), b.c_str(), sd.c_str(),
                r.ppl, r.ppl_stderr, r.kld, r.top1_agree, rows[i].calib_seconds,
                task_metrics.empty() ? "" : task_cells(i + 1).c_str(), rows[i].note.empty() ? "" : "  ",
                rows[i].note.c_str());
  }
  // Each row's own settings (method and bits differ between rows), each distinct line once.
  std::vector<std::string> seen;
  for (const auto& r : rows)
    if (std::find(seen.begin(), seen.end(), r.settings) == seen.end()) {
      seen.push_back(r.settings);
      std::printf("settings: %s\n", r.settings.c_str());
    }
}

DUQ_REGISTER_COMMAND(
    {"compare", "quantize with several methods and bit widths; perplexity and KL divergence table", [](CLI::App& app) {
       auto o = std::make_shared<CompareOpts>();
       o->m.add(app);
       o->q.add(app);
       app.add_option("--text", o->text, "evaluation text")->required();
       app.add_option("--methods", o->methods,
                      "comma-separated methods: fp; rtn; smoothquant (q/k/v and gate/up inputs, "
                      "alpha 0.5); rotation (QuaRot's randomized Hadamard per linear input); duquant; "
                      "rotation+gptq (QuaRot-GPTQ: GPTQ on the rotated weights, symmetric grid, per-row "
                      "MSE clip); duquant+gptq; duquant+lwc (learned weight clipping, --lwc-epochs, "
                      "--lwc-lr); gptq (no transform); adadim (per module per-IC or per-OC groups, RTN); "
                      "adadim+gptq; duquant-auto (per linear input the transform — none, smoothing, "
                      "rotation or DuQuant — and activation clip, per layer the Q/K clip, per row the "
                      "weight clip, chosen by output error on the calibration data; GPTQ rounding). "
                      "GPTQ/AdaDim use the Hessian of each transformed linear input "
                      "over all calibration windows propagated through the quantized blocks. "
                      "Weight-only settings: --bits W3A16,W4A16 (A16 = activations and KV not "
                      "quantized), --group-size 32 or 0 (per channel). Per-IC (AdaDim) and grouped "
                      "weights run simulated only: the integer kernels take per-row grids")
           ->capture_default_str();
       app.add_option("--bits", o->bits, "comma-separated bit settings")->capture_default_str();
       app.add_option("--seeds", o->seeds, "more seeds for rotation/duquant at --seed-bits, e.g. 3,4 (rows per seed)");
       app.add_option("--seed-bits", o->seed_bits, "bit setting the extra seeds apply to")->capture_default_str();
       app.add_option("--ctx", o->ctx, "evaluation window (default: min(model max, 2048))")
           ->check(Range(2, kMaxContext));
       app.add_option("--max-windows", o->max_windows, "evaluate at most this many windows (default: all)")
           ->check(Range(1, kMaxWindows));
       app.add_flag("--json", o->json, "print JSON {\"rows\": [...]}");
       app.add_option("--tasks", o->tasks,
                      "also score lm-eval tasks (as `eval`) on every model: comma-separated names, "
                      "e.g. piqa; adds columns and rows[].tasks in lm-eval's layout");
       app.add_option("--task-data", o->task_data, "data of --tasks (as eval --data)");
       app.add_option("--task-engine", o->task_engine,
                      "how --tasks scores each quantized row: on the file `quantize` writes with "
                      "the same settings, simulated (= eval --simulate on it) or integer (= eval)")
           ->check(CLI::IsMember({"simulated", "integer"}))
           ->capture_default_str();
       app.add_option("--task-limit", o->task_limit, "first K documents of each task (0 = all)")
           ->check(Range(0, 1 << 30));
       app.add_option("--task-batch-size", o->task_batch_size,
                      "documents of --tasks scored together (as eval --batch-size)")
           ->capture_default_str()
           ->check(Range(1, 1024));
       app.callback([o, &app] { run_compare(*o, app); });
     }});

}  // namespace
}  // namespace duq::tools
