// duquant serve as a client sees it, on stories260K over loopback: the server starts on a free port (--port 0,
// the port read from its stderr), answers like `duquant generate`, keeps concurrent streams equal to their
// solo results, survives a 200-request load and bad requests with the right statuses and no leaked slot,
// drains and exits 0 on SIGTERM; the web page streams a reply in headless Chromium.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Serve : public ::testing::Test {
 protected:
  fs::path a_ = test::assets_dir();
  std::string model_ = (a_ / "models/stories260K/stories260K.bin").string();
  std::string tok_ = (a_ / "models/stories260K/tok512.bin").string();
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;

  // Options after --model/--tokenizer/--port 0.
  virtual std::vector<std::string> args() const {
    return {"--parallel", "4", "--template", "vicuna", "--max-tokens", "24", "--max-body", "8192", "--threads", "1"};
  }
  void SetUp() override {
    if (!fs::exists(model_)) GTEST_SKIP() << "assets not found";
    dir_ = test::temp_dir("serve");
    const std::string log = (dir_ / "server.err").string();
    test::write_bytes(log, "");
    pid_ = fork();
    if (pid_ == 0) {
      const std::string cli = test::cli_path().string();
      std::freopen(log.c_str(), "w", stderr);
      std::vector<std::string> a = {cli, "serve", "--model", model_, "--tokenizer", tok_, "--port", "0"};
      for (const auto& x : args()) a.push_back(x);
      std::vector<char*> argv;
      for (auto& x : a) argv.push_back(x.data());
      argv.push_back(nullptr);
      execv(cli.c_str(), argv.data());
      _exit(127);
    }
    const std::regex re("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string err = test::read_text(log);
      if (std::regex_search(err, m, re)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(port_, 0) << test::read_text(log);
  }
  void TearDown() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_text(dir_ / "server.err");
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    if (!key_.empty()) c.set_bearer_token_auth(key_);
    return c;
  }
  std::string key_;
  // Completion text (streamed: the concatenated deltas of the server-sent events).
  std::string complete(const json& body, bool chat = false, int* status = nullptr) const {
    auto c = client();
    auto r = c.Post(chat ? "/v1/chat/completions" : "/v1/completions", body.dump(), "application/json");
    if (!r) return "<no response: " + httplib::to_string(r.error()) + ">";
    if (status) *status = r->status;
    if (r->status != 200) return "<status " + std::to_string(r->status) + "> " + r->body;
    if (!body.value("stream", false)) {
      auto j = json::parse(r->body);
      return chat ? j["choices"][0]["message"]["content"].get<std::string>()
                  : j["choices"][0]["text"].get<std::string>();
    }
    std::string text;
    size_t at = 0;
    bool done = false;
    while ((at = r->body.find("data: ", at)) != std::string::npos) {
      const size_t end = r->body.find("\n\n", at);
      const std::string data = r->body.substr(at + 6, end - at - 6);
      at = end;
      if (data == "[DONE]") {
        done = true;
        continue;
      }
      auto j = json::parse(data);
      const auto& ch = j["choices"][0];
      if (chat) text += ch["delta"].value("content", "");
      else text += ch["text"].get<std::string>();
    }
    return done ? text : "<stream without [DONE]> " + text;
  }
  std::string metric(const std::string& name) const {
    auto c = client();
    auto r = c.Get("/metrics");
    if (!r) return "";
    std::smatch m;
    const std::regex re("\n" + name + " ([0-9.e+]+)");
    return std::regex_search(r->body, m, re) ? m[1].str() : "";
  }
  void expect_idle() const {
    for (int i = 0; i < 100 && metric("duquant_slots_active") != "0"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(metric("duquant_slots_active"), "0");
    EXPECT_EQ(metric("duquant_queue_length"), "0");
  }
};

TEST_F(Serve, CompletionEqualsGenerate) {
  auto g = test::run_command(test::cli_path().string() + " generate --model " + model_ + " --tokenizer " + tok_ +
                             " --prompt 'Once upon a time' --temperature 0 --max-tokens 40 --threads 1");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::string want = g.out.substr(std::string("Once upon a time").size(), g.out.size() - 17);
  EXPECT_EQ(complete({{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}}), want);
  EXPECT_EQ(complete({{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}, {"stream", true}}), want);
  auto c = client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "stories260K.bin");
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(Serve, ConcurrentStreamsEqualTheirSoloResults) {
  const std::vector<std::string> prompts = {"Once upon a time", "The dog",       "Lily wanted",      "Tom and Sue",
                                            "A little bird",    "One sunny day", "The big red ball", "Mom said"};
  std::vector<std::string> solo;
  for (const auto& p : prompts) solo.push_back(complete({{"prompt", p}, {"max_tokens", 30}, {"temperature", 0}}));
  std::vector<std::string> got(prompts.size());
  std::vector<std::thread> ts;
  for (size_t i = 0; i < prompts.size(); ++i)
    ts.emplace_back([&, i] {
      got[i] = complete({{"prompt", prompts[i]}, {"max_tokens", 30}, {"temperature", 0}, {"stream", true}});
    });
  for (auto& t : ts) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], solo[i]) << prompts[i];
  EXPECT_NE(solo[0], solo[1]);
  // Batches of more than one sequence did run.
  EXPECT_GT(std::stod(metric("duquant_batch_size_sum")), std::stod(metric("duquant_batch_size_count")));
  expect_idle();
}

TEST_F(Serve, LoadOf200RequestsFrom16Clients) {
  std::atomic<int> ok{0}, bad{0};
  std::mutex m;
  std::string why;  // what the failed requests got
  std::vector<std::thread> ts;
  for (int t = 0; t < 16; ++t)
    ts.emplace_back([&, t] {
      for (int i = t; i < 200; i += 16) {
        int status = 0;
        const std::string text = complete({{"prompt", "Story " + std::to_string(i)},
                                           {"max_tokens", 1 + i % 6},
                                           {"temperature", 0.7},
                                           {"seed", i},
                                           {"stream", i % 2 == 0}},
                                          false, &status);
        if (status == 200 && text.rfind("<", 0) != 0) {
          ++ok;
        } else {
          ++bad;
          std::lock_guard lock(m);
          why += "request " + std::to_string(i) + ": status " + std::to_string(status) + ": " + text + "\n";
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, 200) << why;
  EXPECT_EQ(bad, 0);
  expect_idle();
  EXPECT_EQ(metric("duquant_requests_total"), "200");
}

// A second server on a port in use fails with a clear error instead of sharing the port (SO_REUSEPORT).
TEST_F(Serve, SecondServerOnTheSamePortFails) {
  auto r = test::run_command("timeout 60 " + test::cli_path().string() + " serve --model " + model_ + " --tokenizer " +
                             tok_ + " --port " + std::to_string(port_) + " --threads 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << r.err;
  EXPECT_EQ(complete({{"prompt", "x"}, {"max_tokens", 2}, {"temperature", 0}}).rfind("<", 0), std::string::npos);
}

TEST_F(Serve, BadRequestsGetTheirStatusAndTheServerGoesOn) {
  auto c = client();
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = c.Post(path, body, "application/json");
    return r ? r->status : -1;
  };
  auto r = c.Post("/v1/completions", "{\"prompt\": ", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(json::parse(r->body)["error"]["message"].is_string());
  std::string long_prompt;
  for (int i = 0; i < 700; ++i) long_prompt += "dog ";
  EXPECT_EQ(post("/v1/completions", json{{"prompt", long_prompt}}.dump()), 400);
  EXPECT_EQ(post("/v1/completions", json{{"prompt", "x"}, {"model", "gpt-4"}}.dump()), 404);
  EXPECT_EQ(post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", -3}}.dump()), 400);
  EXPECT_EQ(post("/v1/completions", json{{"prompt", 5}}.dump()), 400);
  EXPECT_EQ(post("/v1/chat/completions", json{{"messages", json::array()}}.dump()), 400);
  EXPECT_EQ(post("/v1/completions", json{{"prompt", std::string(9000, 'a')}}.dump()), 413);  // --max-body 8192

  EXPECT_EQ(post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}}.dump()), 200);
}

// One slot, no queue and a key.
class ServeLimits : public Serve {
 protected:
  std::vector<std::string> args() const override {
    return {"--parallel", "1", "--queue", "0", "--api-key", "sekret", "--threads", "1"};
  }
};

// Greedy "Once upon a time" runs 341 tokens before its EOS: far more than 20 ms on any machine.
const json kLongGreedy = {{"prompt", "Once upon a time"}, {"max_tokens", 500}, {"temperature", 0}};

TEST_F(ServeLimits, ApiKeyAndBusy) {
  {
    auto c = client();  // no key yet
    auto r = c.Post("/v1/completions", json{{"prompt", "x"}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    auto h = c.Get("/health");  // not under /v1: open
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  }
  key_ = "sekret";
  // While the only slot streams, a second request is refused with 503 + Retry-After.
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  json body = kLongGreedy;
  body["stream"] = true;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Authorization", "Bearer sekret");
  int second = 0;
  std::string retry;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    if (second == 0) {
      auto c2 = client();
      auto r2 = c2.Post("/v1/completions", json{{"prompt", "x"}}.dump(), "application/json");
      second = r2 ? r2->status : -1;
      if (r2) retry = r2->get_header_value("Retry-After");
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err;
  auto c3 = client();
  c3.send(req, res, err);
  EXPECT_EQ(second, 503);
  EXPECT_EQ(retry, "1");
  expect_idle();
}

class ServeTimeout : public Serve {
 protected:
  std::vector<std::string> args() const override { return {"--parallel", "2", "--timeout", "0.02", "--threads", "1"}; }
};

TEST_F(ServeTimeout, LongRequestsAreCut) {
  auto c = client();
  auto r = c.Post("/v1/completions", kLongGreedy.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  json body = kLongGreedy;
  body["stream"] = true;
  auto s = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200);
  EXPECT_NE(s->body.find("\"finish_reason\":\"timeout\""), std::string::npos) << s->body;
  expect_idle();
  EXPECT_EQ(metric("duquant_requests_finished_total\\{reason=\"timeout\"\\}"), "2");
}

// A random-weight model with the LLaMA-2 tokenizer emits byte-fallback tokens, i.e. pieces of UTF-8
// characters and invalid sequences: streams and JSON bodies stay valid (U+FFFD) and the server keeps serving.
class ServeRandomTokens : public Serve {
 protected:
  void SetUp() override {
    const fs::path d = test::temp_dir("synth");
    tok_ = (a_ / "tokenizers/llama2/tokenizer.model").string();
    if (!fs::exists(tok_)) GTEST_SKIP() << "assets not found";
    auto r = test::run_command(test::cli_path().string() + " synth --out " + (d / "m").string() + " " + shape() +
                               " --vocab 32000 --seed 5");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    model_ = (d / "m").string();
    Serve::SetUp();
  }
  std::vector<std::string> args() const override { return {"--parallel", "4", "--threads", "1"}; }
  virtual std::string shape() const { return "--dim 64 --hidden 128 --layers 1 --heads 4"; }
};

TEST_F(ServeRandomTokens, InvalidUtf8PiecesDoNotBreakTheServer) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      int status = 0;
      const std::string text =
          complete({{"prompt", "a"}, {"max_tokens", 300}, {"temperature", 1.0}, {"seed", t}, {"stream", t % 2 == 0}},
                   false, &status);
      if (status == 200 && text.rfind("<", 0) != 0 && !text.empty()) ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, 4);
  expect_idle();
  EXPECT_EQ(metric("duquant_generated_tokens_total"), "1200");
}

// One slot and a greedy reply of 2000 tokens from a model big enough that it takes seconds: a client that gives up
// (after 0.3 s, or after three chunks of a stream) frees the slot long before the reply would end. (On the
// stories260K model a reply can end before the client's close is seen: no cancellation to count.)
class ServeClientLeaves : public ServeRandomTokens {
 protected:
  std::vector<std::string> args() const override { return {"--parallel", "1", "--threads", "1"}; }
  std::string shape() const override { return "--dim 256 --hidden 512 --layers 4 --heads 4"; }
};

TEST_F(ServeClientLeaves, NonStreamingClientThatLeavesFreesItsSlot) {
  const int max_tokens = 2000;
  {
    auto c = client();
    c.set_read_timeout(0, 300000);
    auto r = c.Post("/v1/completions", json{{"prompt", "a"}, {"max_tokens", max_tokens}, {"temperature", 0}}.dump(),
                    "application/json");
    EXPECT_FALSE(r) << r->status << " " << r->body;  // no reply within 0.3 s; the client closes its socket
  }
  expect_idle();
  EXPECT_EQ(metric("duquant_requests_finished_total\\{reason=\"cancelled\"\\}"), "1");
  EXPECT_EQ(metric("duquant_http_responses_total\\{status=\"499\"\\}"), "1");
  EXPECT_LT(std::stod(metric("duquant_generated_tokens_total")), max_tokens / 2);
  int status = 0;
  complete({{"prompt", "a"}, {"max_tokens", 3}}, false, &status);
  EXPECT_EQ(status, 200);  // still serving
}

TEST_F(ServeClientLeaves, StreamingClientThatLeavesMidStreamFreesItsSlot) {
  const int max_tokens = 2000;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = json{{"prompt", "a"}, {"max_tokens", max_tokens}, {"temperature", 0}, {"stream", true}}.dump();
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  httplib::Response res;
  httplib::Error err;
  auto c = client();
  c.send(req, res, err);
  EXPECT_EQ(chunks, 3);
  expect_idle();
  EXPECT_EQ(metric("duquant_requests_finished_total\\{reason=\"cancelled\"\\}"), "1");
  EXPECT_LT(std::stod(metric("duquant_generated_tokens_total")), max_tokens / 2);
  int status = 0;
  complete({{"prompt", "a"}, {"max_tokens", 3}}, false, &status);
  EXPECT_EQ(status, 200);  // still serving
}

std::string chromium() {
  if (const char* e = std::getenv("DUQUANT_CHROMIUM"); e && *e) return e;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    auto r = test::run_command(std::string("command -v ") + name);
    if (r.exit_code == 0 && !r.out.empty()) return r.out.substr(0, r.out.find('\n'));
  }
  return "";
}

std::string unescape_html(std::string s) {
  for (auto [from, to] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}})
    for (size_t i; (i = s.find(from)) != std::string::npos;) s.replace(i, std::string(from).size(), to);
  return s;
}

TEST_F(Serve, WebPageStreamsAReplyInHeadlessChromium) {
  const std::string exe = chromium();
  if (exe.empty()) GTEST_SKIP() << "chromium not installed (Debian: apt-get install chromium)";
  const std::string want = complete({{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"temperature", 0}}, true);
  ASSERT_FALSE(want.empty());
  const std::string url = "'http://127.0.0.1:" + std::to_string(port_) + "/?prompt=Hi&autosend=1'";
  // --dump-dom fires when the virtual-time budget runs out, and virtual time runs ahead while the page waits on
  // a streamed body: on a loaded machine the DOM can be dumped mid-stream. Such a dump must hold a prefix of
  // the reply; the browser then runs again (a fresh profile each time), at most twelve times (five were not
  // always enough at load 6 on two cores). A larger virtual-time budget costs nothing once the page is done
  // (idle virtual time runs ahead) and gives a slow stream more of it.
  std::smatch m;
  std::string dom_out;
  for (int attempt = 0; attempt < 12; ++attempt) {
    const fs::path profile = dir_ / ("profile" + std::to_string(attempt));
    auto dom = test::run_command("timeout 120 " + exe +
                                 " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
                                 " --disable-component-update --disable-sync --user-data-dir=" +
                                 profile.string() + " --virtual-time-budget=60000 --dump-dom " + url);
    ASSERT_EQ(dom.exit_code, 0) << dom.err;
    dom_out = dom.out;
    ASSERT_TRUE(std::regex_search(
        dom_out, m,
        std::regex("<div id=\"reply\" data-chunks=\"([0-9]+)\" data-state=\"([a-z]+)\"[^>]*>([^<]*)</div>")))
        << dom_out;
    if (m[2].str() == "done") break;
    ASSERT_EQ(m[2].str(), "streaming") << dom_out;
    ASSERT_EQ(want.rfind(unescape_html(m[3].str()), 0), 0u) << "not a prefix of the reply: " << m[3].str();
  }
  EXPECT_EQ(m[2].str(), "done");
  EXPECT_GT(std::stoi(m[1].str()), 2);  // streamed in several events
  EXPECT_EQ(unescape_html(m[3].str()), want);
}

}  // namespace
}  // namespace duq
