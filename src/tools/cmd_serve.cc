// duquant serve: an OpenAI-compatible HTTP server (Debian's cpp-httplib) over the continuous-batching
// scheduler (serve/scheduler.h). HTTP threads parse, tokenize and wait on their job; one scheduler thread
// runs the batched forward. SIGINT / SIGTERM: stop admitting (503), let running requests finish (at most
// --drain seconds), exit 0.
#include <httplib.h>

#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "serve/openai.h"
#include "serve/peer_socket.h"
#include "serve/scheduler.h"
#include "tools/chat_args.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/runner.h"
#include "tools/serve_page.h"

namespace duq::tools {
namespace {

using nlohmann::json;
using serve::ApiError;

struct ServeOpts {
  ModelArgs m;
  std::string host = "127.0.0.1", api_key, tmpl, model_id;
  int port = 8080, parallel = 4, ctx = 0, queue = 64, max_tokens = 256, http_threads = 0;
  double timeout = 600, drain = 30;
  size_t max_body = 1 << 20;
  bool simulate = false, exact_rotations = false;
};

constexpr int kDefaultCtx = 4096;  // --ctx-size 0: the model's context, at most this

// Response JSON: token text may hold bytes that are not UTF-8 (a byte-fallback token of a broken character,
// at the end of a reply): replaced by U+FFFD rather than throwing.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

long now_s() { return static_cast<long>(std::time(nullptr)); }

// Counters of what the HTTP layer answered (the scheduler counts the rest).
struct HttpCounters {
  std::mutex mu;
  std::map<int, uint64_t> by_status;
  void add(int status) {
    std::lock_guard lk(mu);
    ++by_status[status];
  }
};

std::string metrics_text(const serve::SchedulerStats& s, HttpCounters& h) {
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  metric("duquant_requests_total", "counter", "Requests accepted into the queue.");
  o << "duquant_requests_total " << s.requests << '\n';
  metric("duquant_requests_finished_total", "counter", "Requests finished, by reason.");
  for (int f = 1; f < 6; ++f)
    o << "duquant_requests_finished_total{reason=\"" << serve::finish_name(static_cast<serve::Finish>(f)) << "\"} "
      << s.finished[f] << '\n';
  metric("duquant_http_responses_total", "counter", "HTTP responses of the API, by status.");
  {
    std::lock_guard lk(h.mu);
    for (auto& [st, n] : h.by_status) o << "duquant_http_responses_total{status=\"" << st << "\"} " << n << '\n';
  }
  metric("duquant_prompt_tokens_total", "counter", "Prompt tokens read (prefill).");
  o << "duquant_prompt_tokens_total " << s.prompt_tokens << '\n';
  metric("duquant_generated_tokens_total", "counter", "Tokens generated.");
  o << "duquant_generated_tokens_total " << s.completion_tokens << '\n';
  metric("duquant_decode_tokens_per_second", "gauge", "Tokens generated per second over the last 10 s of steps.");
  o << "duquant_decode_tokens_per_second " << s.decode_tokens_per_s << '\n';
  metric("duquant_queue_length", "gauge", "Requests waiting for a slot.");
  o << "duquant_queue_length " << s.queued << '\n';
  metric("duquant_slots_active", "gauge", "Slots serving a request.");
  o << "duquant_slots_active " << s.active << '\n';
  metric("duquant_slots_total", "gauge", "Slots (--parallel).");
  o << "duquant_slots_total " << s.slots << '\n';
  metric("duquant_batch_size", "histogram", "Sequences per batched forward step.");
  uint64_t cum = 0;
  for (size_t i = 0; i < std::size(serve::kBatchBuckets); ++i) {
    cum += s.batch_hist[i];
    o << "duquant_batch_size_bucket{le=\"" << serve::kBatchBuckets[i] << "\"} " << cum << '\n';
  }
  cum += s.batch_hist.back();
  o << "duquant_batch_size_bucket{le=\"+Inf\"} " << cum << "\nduquant_batch_size_sum " << s.batch_sum
    << "\nduquant_batch_size_count " << s.steps << '\n';
  return o.str();
}

void reply_error(httplib::Response& res, int status, const std::string& msg, const std::string& type,
                 const std::string& param = "") {
  res.status = status;
  res.set_content(serve::error_body(msg, type, param), "application/json");
}

// SIGINT / SIGTERM land in whichever thread the kernel picks (OpenMP's workers exist before serve starts):
// the handler only records the signal, a watcher thread acts on it.
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int sig) { g_signal = sig; }

void run_serve(const ServeOpts& o) {
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  if (o.ctx > 0) run.ensure_context(o.ctx, "--ctx-size " + std::to_string(o.ctx));
  std::optional<eval::chat::ChatFormat> fmt;
  if (!o.tmpl.empty()) fmt = eval::chat::parse_chat_format(o.tmpl);
  else fmt = model_chat_format(o.m.model);
  const std::string model_id = o.model_id.empty() ? std::filesystem::path(o.m.model).filename().string() : o.model_id;

  serve::SchedulerConfig sc;
  sc.parallel = o.parallel;
  // Every slot holds a KV cache of the whole context: a model trained at 128K would otherwise take tens of GB.
  sc.ctx = o.ctx > 0 ? o.ctx : std::min(run.cfg.max_seq_len, kDefaultCtx);
  sc.queue = o.queue;
  serve::Scheduler sched(serve::Engine{run.cfg, run.tok.get(), run.forward_batch}, sc);
  sched.start();

  httplib::Server svr;
  const int http_threads = o.http_threads > 0 ? o.http_threads : o.parallel + std::min(o.queue, 64) + 4;
  svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
  svr.set_payload_max_length(o.max_body);
  svr.set_read_timeout(30, 0);
  HttpCounters counters;
  std::mutex tok_mu;  // tokenizers are not documented thread-safe
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> next_id{1};

  svr.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!o.api_key.empty() && req.path.rfind("/v1/", 0) == 0 &&
        req.get_header_value("Authorization") != "Bearer " + o.api_key) {
      reply_error(res, 401, "missing or wrong API key (Authorization: Bearer …)", "authentication_error");
      counters.add(401);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([&](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string msg = res.status == 413   ? "request body larger than --max-body bytes"
                            : res.status == 404 ? "no such endpoint"
                                                : "HTTP error";
    res.set_content(serve::error_body(msg, "invalid_request_error"), "application/json");
    counters.add(res.status);
  });

  auto completion = [&](bool chat) {
    return [&, chat](const httplib::Request& req, httplib::Response& res) {
      try {
        serve::CompletionRequest r = serve::parse_completion_request(req.body, chat, o.max_tokens);
        if (!r.model.empty() && r.model != model_id)
          throw ApiError(404, "the model '" + r.model + "' does not exist (this server has '" + model_id + "')",
                         "invalid_request_error", "model");
        r.p.timeout_s = o.timeout;
        std::vector<int> tokens;
        {
          std::lock_guard lk(tok_mu);
          tokens = serve::prompt_tokens(r, *run.tok, fmt);
        }
        if (static_cast<int>(tokens.size()) > sched.context())
          throw ApiError(400,
                         "the prompt has " + std::to_string(tokens.size()) + " tokens, more than the context of " +
                             std::to_string(sched.context()),
                         "invalid_request_error", chat ? "messages" : "prompt");
        std::shared_ptr<serve::Job> job;
        try {
          job = sched.submit(std::move(tokens), r.p);
        } catch (const Error& e) {
          throw ApiError(400, e.what());
        }
        if (!job) {
          res.set_header("Retry-After", "1");
          throw ApiError(
              503, draining ? "the server is shutting down" : "the server is busy: the queue is full; retry later",
              "server_error");
        }
        const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
        const long created = now_s();
        if (!r.stream) {
          // The client is watched between reads: one that leaves frees its slot within ~200 ms.
          const int fd =
              serve::find_connection_socket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
          std::string text;
          for (bool done = false; !done;) {
            text += job->read(std::chrono::milliseconds(200), done);
            if (!done && fd >= 0 && serve::peer_closed(fd)) {
              job->cancel();
              throw ApiError(499, "the client closed the connection", "invalid_request_error");
            }
          }
          const serve::Finish f = job->finish();
          if (f == serve::Finish::Error) throw ApiError(500, job->error(), "server_error");
          if (f == serve::Finish::Cancelled) throw ApiError(503, "the server is shutting down", "server_error");
          if (f == serve::Finish::Timeout)
            throw ApiError(504, "the request ran longer than --timeout " + std::to_string(o.timeout) + " s", "timeout");
          res.set_content(dump(serve::completion_body(r, id, model_id, created, text, serve::finish_name(f),
                                                      job->prompt_tokens, job->completion_tokens)),
                          "application/json");
          counters.add(200);
          return;
        }
        counters.add(200);
        res.set_header("Cache-Control", "no-cache");
        auto first = std::make_shared<bool>(true);
        res.set_chunked_content_provider(
            "text/event-stream",
            [&, job, r, id, created, first](size_t, httplib::DataSink& sink) {
              try {
                auto send = [&](const json& j) {
                  const std::string s = "data: " + dump(j) + "\n\n";
                  return sink.write(s.data(), s.size());
                };
                if (*first && chat && !send(serve::stream_chunk(r, id, model_id, created, "", "", true))) {
                  job->cancel();
                  return false;
                }
                bool done = false;
                const std::string text = job->read(std::chrono::milliseconds(200), done);
                if (!text.empty() && !send(serve::stream_chunk(r, id, model_id, created, text, "", *first && !chat))) {
                  job->cancel();  // the client is gone: free the slot at the next step
                  return false;
                }
                if (!text.empty() || chat) *first = false;
                if (!done) return true;
                const serve::Finish f = job->finish();
                const json usage = serve::usage_json(job->prompt_tokens, job->completion_tokens);
                json last =
                    f == serve::Finish::Error
                        ? json{{"error", {{"message", job->error()}, {"type", "server_error"}}}}
                        : serve::stream_chunk(r, id, model_id, created, "", serve::finish_name(f), false, usage);
                send(last);
                const std::string end = "data: [DONE]\n\n";
                sink.write(end.data(), end.size());
                sink.done();
                return true;
              } catch (const std::exception& e) {  // never out of httplib's writer thread (std::terminate)
                std::fprintf(stderr, "serve: stream %s: %s\n", id.c_str(), e.what());
                job->cancel();
                return false;
              }
            },
            [job](bool success) {
              if (!success) job->cancel();
            });
      } catch (const ApiError& e) {
        reply_error(res, e.status, e.what(), e.type, e.param);
        counters.add(e.status);
      } catch (const std::exception& e) {
        reply_error(res, 500, e.what(), "server_error");
        counters.add(500);
      }
    };
  };
  svr.Post("/v1/completions", completion(false));
  svr.Post("/v1/chat/completions", completion(true));
  svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    json m = {{"id", model_id},
              {"object", "model"},
              {"created", now_s()},
              {"owned_by", "duquant"},
              {"meta", {{"engine", run.kind}, {"context", sched.context()}, {"parallel", o.parallel}}}};
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({m})}}), "application/json");
  });
  svr.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    const auto s = sched.stats();
    json j = {{"status", draining ? "draining" : "ok"},
              {"slots_idle", s.slots - s.active},
              {"slots_processing", s.active},
              {"queue", s.queued}};
    res.status = draining ? 503 : 200;
    res.set_content(j.dump(), "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(sched.stats(), counters), "text/plain; version=0.0.4");
  });
  svr.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(serve_page_html(model_id, fmt.has_value()), "text/html; charset=utf-8");
  });

  // httplib 0.11 listens with a backlog of 5 and SO_REUSEPORT. A burst of clients then overflows the accept
  // queue, the kernel answers with SYN cookies and some connections are reset before a byte is read (seen: 2
  // of 200 requests from 16 clients on a loaded 2-core machine); and SO_REUSEPORT would let a second server
  // share a port in use instead of failing. So: SO_REUSEADDR only, and listen() again with the system's
  // maximum backlog once bound.
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = static_cast<int>(sock);
  });
  const int port = o.port == 0 ? svr.bind_to_any_port(o.host) : (svr.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) fail("cannot listen on ", o.host, ":", o.port, " (address in use or not local?)");
  if (listen_fd < 0 || ::listen(listen_fd, SOMAXCONN) != 0)
    fail("cannot set the listen backlog on ", o.host, ":", port, ": ", std::strerror(errno));

  std::atomic<bool> exiting{false};
  std::thread watcher([&] {
    while (!exiting) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int sig = g_signal;
      if (sig != SIGINT && sig != SIGTERM) continue;
      std::fprintf(stderr, "serve: %s: draining (new requests get 503), then exiting\n",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
      draining = true;
      sched.drain(std::chrono::milliseconds(static_cast<long>(o.drain * 1000)));
      svr.stop();
      return;
    }
  });
  std::fprintf(stderr, "serve: %s (%s, %d slots × %d positions) listening on http://%s:%d\n", model_id.c_str(),
               run.kind.c_str(), o.parallel, sched.context(), o.host.c_str(), port);
  std::fflush(stderr);
  const bool ok = svr.listen_after_bind();
  exiting = true;
  watcher.join();
  sched.stop();
  if (!ok && !draining) fail("the HTTP server stopped unexpectedly on ", o.host, ":", port);
  std::fprintf(stderr, "serve: stopped\n");
}

DUQ_REGISTER_COMMAND(
    {"serve", "OpenAI-compatible HTTP server with continuous batching", [](CLI::App& app) {
       auto o = std::make_shared<ServeOpts>();
       o->m.add(app);
       app.add_option("--host", o->host, "address to listen on (127.0.0.1: this machine only)")->capture_default_str();
       app.add_option("--port", o->port, "TCP port (0: any free port, printed on stderr)")
           ->capture_default_str()
           ->check(Range(0, 65535));
       app.add_option("--parallel", o->parallel, "slots: sequences decoded together in one batch")
           ->capture_default_str()
           ->check(Range(1, 1024));
       app.add_option("--ctx-size", o->ctx, "positions per slot, prompt + reply (0: the model's context, at most 4096)")
           ->capture_default_str()
           ->check(Range(0, 1 << 20));
       app.add_option("--queue", o->queue, "requests waiting beyond the slots; more get 503 + Retry-After")
           ->capture_default_str()
           ->check(Range(0, 1 << 16));
       app.add_option("--max-tokens", o->max_tokens, "default max_tokens of a request")
           ->capture_default_str()
           ->check(Range(1, 1 << 24));
       app.add_option("--timeout", o->timeout, "seconds a request may take from arrival (then cut)")
           ->capture_default_str()
           ->check(RangeOpenLow(0.0, 1e7));
       app.add_option("--drain", o->drain, "seconds SIGINT/SIGTERM waits for running requests")
           ->capture_default_str()
           ->check(Range(0.0, 1e6));
       app.add_option("--max-body", o->max_body, "largest request body in bytes (larger: 413)")
           ->capture_default_str()
           ->check(Range(1.0, 1073741824.0));
       app.add_option("--api-key", o->api_key, "require 'Authorization: Bearer KEY' on /v1/*");
       app.add_option("--template", o->tmpl,
                      "chat template for /v1/chat/completions: llama-2-chat, vicuna, llama-3-instruct, "
                      "mistral-instruct (default: from tokenizer_config.json next to the model)");
       app.add_option("--model-id", o->model_id, "model name in /v1/models (default: the file name)");
       app.add_option("--http-threads", o->http_threads,
                      "HTTP worker threads (0: parallel + queue + 4, at most parallel + 68)")
           ->capture_default_str()
           ->check(Range(0, 4096));
       app.add_flag("--simulate", o->simulate,
                    "quantized .gguf: simulated (fake) quantization instead of the integer kernels");
       app.add_flag("--exact-rotations", o->exact_rotations,
                    "integer engine: DuQuant's online rotations in fp32 (as simulated) instead of int16");
       app.callback([o] { run_serve(*o); });
     }});

}  // namespace
}  // namespace duq::tools
