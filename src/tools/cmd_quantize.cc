// duquant quantize: calibrate and quantize a float model, write the quantized model file (.gguf).
#include <cstdio>
#include <filesystem>

#include "calib/auto_report.h"
#include "calib/export.h"
#include "calib/pipeline.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "core/peak_rss.h"
#include "core/progress.h"
#include "model/quant_model.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"
#include "tools/quant_file.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;

struct QuantizeOpts {
  ModelArgs m;
  QuantArgs q;
  std::string method = "duquant";
  bool auto_mode = false;  // --auto
  int wbits = 4, abits = 4;
  std::string out;
  bool force = false;
  // Storage of the two float tables (docs/quantized-format.md): the embedding is a lookup table, so Q8_0;
  // the classifier stays floating point (F16). Both are widened to float32 when the file is read.
  std::string embed_type = model::table_type_name(model::kDefaultEmbedType);
  std::string output_type = model::table_type_name(model::kDefaultOutputType);
};

void run_quantize(const QuantizeOpts& o, const CLI::App& app) {
  // Output checks first: never start an hour of work that cannot be saved, never touch the input.
  auto inputs = model_input_paths(o.m);
  inputs.push_back(o.q.calib_file);
  const fs::path out = check_output_file(o.out, "--out", o.force, inputs);
  require_regular_file(o.q.calib_file, "calibration text");

  auto src = model::open_weights(o.m.model);
  if (app.count("--calib-ctx")) allow_context(*src, o.q.o.calib_ctx, "--calib-ctx " + std::to_string(o.q.o.calib_ctx));
  const auto& cfg = src->config();
  auto tok = load_tokenizer_for(o.m, cfg);
  EmbeddedTokenizer tok_file = tokenizer_file_for(o.m, cfg);
  const TableTypes types = resolve_table_types(o.embed_type, o.output_type, app.count("--embed-type") > 0, cfg);
  calib::QuantOptions opts = o.q.resolve(app, cfg.max_seq_len);
  opts.method = o.auto_mode ? calib::Method::DuQuantAuto : calib::parse_method(o.method);
  if (o.auto_mode && app.count("--method") && o.method != "duquant-auto")
    fail("--auto is --method duquant-auto; it cannot be combined with --method ", o.method);
  opts.wbits = o.wbits;
  opts.abits = o.abits;
  opts.validate();
  if (std::string why; !file_can_hold(opts, &why)) fail(why);
  std::fprintf(stderr, "%s: %s\n", o.m.model.c_str(), cfg.summary().c_str());
  auto windows = calibration_windows(o.q, opts, *tok);
  std::fprintf(stderr, "settings: %s\n", opts.describe().c_str());
  // Block by block: each finished block is packed at once and its float weights freed (calib/export.h).
  calib::QuantizedModel qm;
  model::QuantModelData data = calib::quantize_to_file_data(*src, windows, opts, qm);
  if (opts.is_auto()) std::printf("%s", calib::auto_choices_table(qm).c_str());
  const Timer write_timer;
  write_quantized_file(std::move(data), std::move(tok_file), types, out.string(),
                       o.force ? Replace::IfRegular : Replace::No);
  const double write_seconds = write_timer.seconds() + qm.stages.pack;
  const auto size = fs::file_size(out);
  std::printf("wrote %s (%.2f MB; embedding %s, classifier %s): %s, calibrated on %zu × %d tokens in %.1f s\n",
              o.out.c_str(), size / 1e6, model::table_type_name(types.embed),
              cfg.tied_embeddings ? "tied" : model::table_type_name(types.output), opts.describe().c_str(),
              windows.size(), opts.calib_ctx, qm.calib_seconds);
  const calib::StageTimes& t = qm.stages;
  std::printf(
      "stages: reading weights %.1f s, statistics %.1f s, search %.1f s, weight quantization %.1f s, "
      "propagation %.1f s, writing %.1f s; peak RSS %.2f GB\n",
      t.load, t.statistics, t.search, t.weights, t.propagate, write_seconds, peak_rss_bytes() / 1e9);
}

DUQ_REGISTER_COMMAND(
    {"quantize", "calibrate and quantize a model; write a quantized .gguf", [](CLI::App& app) {
       auto o = std::make_shared<QuantizeOpts>();
       o->m.add(app);
       o->q.add(app);
       app.add_option("--method", o->method,
                      "rtn, smoothquant, rotation, duquant, rotation+gptq, duquant+gptq, duquant+lwc, gptq, "
                      "duquant-auto")
           ->capture_default_str()
           ->check(CLI::IsMember(calib::method_names()));
       app.add_flag("--auto", o->auto_mode,
                    "= --method duquant-auto: per linear input the transform (none, smoothing, "
                    "rotation, DuQuant) and activation clip, per layer the Q/K clip, per output row "
                    "the weight clip, all chosen by output error on the calibration data; the "
                    "choices are printed and stored in the file");
       app.add_option("--wbits", o->wbits, "weight bits (2–8)")->capture_default_str()->check(Range(2, 8));
       app.add_option("--abits", o->abits, "activation bits (2–8, 16 = weight-only)")
           ->capture_default_str()
           ->check(OneOf({2, 3, 4, 5, 6, 7, 8, 16}));
       app.add_option("-o,--out", o->out, "output file (.gguf)")->required();
       app.add_flag("--force", o->force, "replace an existing output file (a regular file that is not an input)");
       app.add_option("--embed-type", o->embed_type,
                      "token embedding storage: f32, f16 or q8_0 (8-bit blocks of 32; f16 when dim "
                      "is not a multiple of 32; tied embeddings default to --output-type)")
           ->capture_default_str()
           ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
       app.add_option("--output-type", o->output_type, "classifier (output.weight) storage: f32 or f16")
           ->capture_default_str()
           ->check(CLI::IsMember({"f32", "f16"}));
       app.callback([o, &app] { run_quantize(*o, app); });
     }});

}  // namespace
}  // namespace duq::tools
