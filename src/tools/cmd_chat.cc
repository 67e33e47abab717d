// duquant answer / duquant chat: MT-Bench answers in FastChat's formats (gen_model_answer.py) and an
// interactive chat, with the chat templates of eval/chat/chat_template.h.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "core/rng.h"
#include "eval/chat/chat_template.h"
#include "eval/chat/reply.h"
#include "eval/tasks/jsonl.h"
#include "model/sampler.h"
#include "tools/chat_args.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;
namespace ch = eval::chat;

struct ChatOpts {
  ModelArgs m;
  std::string tmpl, system, questions, out, model_id;
  bool system_given = false;
  int max_tokens = 1024;
  float temperature = -1.f;  // < 0: FastChat's per-category temperature (answer) / 0.7 (chat)
  float top_p = 1.f;
  uint64_t seed = 0;
  long limit = 0;
  bool simulate = false, exact_rotations = false, force = false;
};

ch::ChatFormat chat_format_for(const ChatOpts& o) { return tools::chat_format_for(o.tmpl, o.m.model); }

// FastChat's temperature per MT-Bench category (gen_model_answer.py temperature_config; others 0.7).
float category_temperature(const std::string& c) {
  if (c == "writing" || c == "roleplay") return 0.7f;
  if (c == "extraction" || c == "math" || c == "coding" || c == "reasoning" || c == "arena-hard-200") return 0.f;
  if (c == "stem" || c == "humanities") return 0.1f;
  return 0.7f;
}

// shortuuid's alphabet and length, as FastChat's answer ids.
std::string short_uuid(Rng& rng) {
  static const std::string a = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::string s;
  for (int i = 0; i < 22; ++i) s += a[static_cast<size_t>(rng.next_u64() % a.size())];
  return s;
}

ch::ForwardFn forward_of(Runner& run) {
  return [&run](std::span<const int> t, int pos, model::KVCache& c, bool last) { return run.forward(t, pos, c, last); };
}

void run_answer(const ChatOpts& o) {
  const fs::path out_path = check_output_file(o.out, "--out", o.force, {o.m.model, o.m.tokenizer, o.questions});
  struct Question {
    nlohmann::json id;
    std::string category;
    std::vector<std::string> turns;
  };
  std::vector<Question> qs;
  eval::tasks::for_each_jsonl(o.questions, [&](const nlohmann::json& j, const eval::tasks::Loc& at) {
    Question q;
    q.id = eval::tasks::field(j, "question_id", at);
    q.category = j.contains("category") && j["category"].is_string() ? j["category"].get<std::string>() : "";
    const auto& t = eval::tasks::field(j, "turns", at);
    if (!t.is_array() || t.empty()) fail(at.str(), ": field 'turns' must be a non-empty array of strings");
    for (auto& x : t) {
      if (!x.is_string()) fail(at.str(), ": field 'turns' must be a non-empty array of strings");
      q.turns.push_back(x.get<std::string>());
    }
    qs.push_back(std::move(q));
  });
  if (o.limit > 0 && static_cast<long>(qs.size()) > o.limit) qs.resize(static_cast<size_t>(o.limit));
  const auto fmt = chat_format_for(o);
  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  const std::string system = o.system_given ? o.system : ch::default_system(fmt);
  const std::string model_id = o.model_id.empty() ? fs::path(o.m.model).filename().string() : o.model_id;
  AtomicFile out(out_path, o.force ? Replace::IfRegular : Replace::No);
  Rng ids(o.seed ^ 0x5eedu);
  size_t done = 0;
  for (const auto& q : qs) {
    const float temp = o.temperature >= 0 ? o.temperature : category_temperature(q.category);
    model::Sampler sampler(temp < 1e-4f ? 0.f : temp, o.top_p, o.seed + done);
    std::vector<ch::Turn> conv;
    nlohmann::json turns = nlohmann::json::array();
    for (const auto& user : q.turns) {
      conv.push_back({user, ""});
      auto r = ch::generate_reply(forward_of(run), run.cfg, *run.tok,
                                  ch::encode_chat(*run.tok, ch::render_chat(fmt, system, conv)), o.max_tokens, sampler,
                                  ch::stop_text(fmt));
      conv.back().assistant = r.text.empty() ? " " : r.text;
      turns.push_back(r.text);
    }
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::json a = {{"question_id", q.id},
                        {"answer_id", short_uuid(ids)},
                        {"model_id", model_id},
                        {"choices", nlohmann::json::array({{{"index", 0}, {"turns", turns}}})},
                        {"tstamp", now}};
    out.write(a.dump() + "\n");
    std::fprintf(stderr, "answer: %zu/%zu questions\n", ++done, qs.size());
  }
  out.commit();
  std::fprintf(stderr, "answer: wrote %zu answers (%s template, %s) to %s\n", qs.size(), ch::chat_format_name(fmt),
               run.kind.c_str(), o.out.c_str());
}

void run_chat(const ChatOpts& o) {
  const auto fmt = chat_format_for(o);
  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  const std::string system = o.system_given ? o.system : ch::default_system(fmt);
  model::Sampler sampler(o.temperature < 0 ? 0.7f : o.temperature, o.top_p, o.seed);
  std::vector<ch::Turn> conv;
  std::fprintf(stderr, "chat (%s template, %s): /reset clears the conversation, /exit or end of input quits\n",
               ch::chat_format_name(fmt), run.kind.c_str());
  std::string line;
  while (true) {
    std::fputs("> ", stderr);
    std::fflush(stderr);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      conv.clear();
      continue;
    }
    if (line.empty()) continue;
    conv.push_back({line, ""});
    auto r = ch::generate_reply(forward_of(run), run.cfg, *run.tok,
                                ch::encode_chat(*run.tok, ch::render_chat(fmt, system, conv)), o.max_tokens, sampler,
                                ch::stop_text(fmt), [](const std::string& p) {
                                  std::fwrite(p.data(), 1, p.size(), stdout);
                                  std::fflush(stdout);
                                });
    std::fputc('\n', stdout);
    if (r.prompt_truncated) std::fprintf(stderr, "(conversation longer than the context: its start was dropped)\n");
    conv.back().assistant = r.text.empty() ? " " : r.text;
  }
}

void add_common(CLI::App& app, ChatOpts& o) {
  o.m.add(app);
  app.add_option("--template", o.tmpl,
                 "chat template: llama-2-chat, vicuna, llama-3-instruct, mistral-instruct (default: from "
                 "tokenizer_config.json's chat_template next to the model)");
  app.add_option("--system", o.system, "system message (default: FastChat's for the template)")
      ->each([&o](const std::string&) { o.system_given = true; });
  app.add_option("-n,--max-tokens", o.max_tokens, "most tokens per reply")
      ->capture_default_str()
      ->check(Range(1, 1 << 24));
  app.add_option("--top-p", o.top_p, "nucleus sampling mass")->capture_default_str()->check(RangeOpenLow(0.0, 1.0));
  app.add_option("--seed", o.seed, "sampling seed")->capture_default_str()->check(RangeU64(0, UINT64_MAX));
  app.add_flag("--simulate", o.simulate,
               "quantized .gguf: simulated (fake) quantization instead of the integer kernels");
  app.add_flag("--exact-rotations", o.exact_rotations, "integer engine: DuQuant's online rotations in fp32");
}

DUQ_REGISTER_COMMAND(
    {"answer", "MT-Bench answers: FastChat question.jsonl in, model answers (FastChat format) out", [](CLI::App& app) {
       auto o = std::make_shared<ChatOpts>();
       add_common(app, *o);
       app.add_option("--questions", o->questions, "FastChat question.jsonl (question_id, category, turns)")
           ->required();
       app.add_option("--out", o->out, "answers .jsonl (question_id, answer_id, model_id, choices, tstamp)")
           ->required();
       app.add_option("--model-id", o->model_id, "model_id written with every answer (default: the file name)");
       app.add_option("--temperature", o->temperature,
                      "sampling temperature for every question (default: FastChat's per category; 0 = greedy)")
           ->check(ZeroOrRange(0.01, 100.0));
       app.add_option("--limit", o->limit, "first K questions")->check(Range(1, 1 << 30));
       app.add_flag("--force", o->force, "replace an existing --out file");
       app.callback([o] { run_answer(*o); });
     }});

DUQ_REGISTER_COMMAND({"chat", "interactive chat with a chat template (reads stdin)", [](CLI::App& app) {
                        auto o = std::make_shared<ChatOpts>();
                        add_common(app, *o);
                        app.add_option("--temperature", o->temperature,
                                       "sampling temperature (default 0.7; 0 = greedy)")
                            ->check(ZeroOrRange(0.01, 100.0));
                        app.callback([o] { run_chat(*o); });
                      }});

}  // namespace
}  // namespace duq::tools
