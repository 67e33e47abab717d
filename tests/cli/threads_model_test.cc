// --threads on the CLI (stories260K): a W4A4 DuQuant file quantized at 1, 2 and 3 threads (the last via
// DUQUANT_THREADS) is byte-identical; its integer perplexity over all of eval.txt is the same double at 1 and
// 2 threads; bad thread counts fail with a one-line error naming the option; `bench gemm --threads 1,2`
// reports every figure at both counts with the scaling ratios.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "stories260k_cli.h"
#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

struct ThreadsCli : test::Stories260KCli {
  std::string quantize(const std::string& prefix, const std::string& threads, const fs::path& out) const {
    return prefix + cli + " quantize --model " + model + " --calib " + calib +
           " --nsamples 8 --calib-ctx 128 --block 64 --steps 64 --quiet --wbits 4 --abits 4" + threads + " --out " +
           out.string();
  }
};

TEST(CliThreads, QuantizedFileAndIntegerPerplexityIdenticalAcrossThreadCounts) {
  ThreadsCli s;
  if (!s.ok()) GTEST_SKIP() << "assets not found";
  const fs::path dir = test::temp_dir("threads_quantize");
  const fs::path f1 = dir / "t1.gguf", f2 = dir / "t2.gguf", f3 = dir / "t3.gguf";
  auto r = test::run_command(s.quantize("", " --threads 1", f1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(s.quantize("", " --threads 2", f2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(s.quantize("DUQUANT_THREADS=3 ", "", f3));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string b1 = test::read_text(f1);
  ASSERT_GT(b1.size(), 1000u);
  EXPECT_TRUE(b1 == test::read_text(f2)) << "--threads 2 wrote a different file";
  EXPECT_TRUE(b1 == test::read_text(f3)) << "DUQUANT_THREADS=3 wrote a different file";

  // Integer engine, all of eval.txt (no --max-windows), ctx 256: the same perplexity to the last bit.
  double ppl[2] = {0, 0};
  for (int t : {1, 2}) {
    r = test::run_command(s.cli + " ppl --model " + f1.string() + " --text " + s.eval + " --ctx 256 --json --threads " +
                          std::to_string(t));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_NE(j["engine"].get<std::string>().find("integer"), std::string::npos) << r.out;
    ppl[t - 1] = j["ppl"].get<double>();
  }
  EXPECT_GT(ppl[0], 1.0);
  EXPECT_LT(ppl[0], 1000.0);  // a working W4A4 model, not noise (the vocabulary is 512)
  EXPECT_EQ(ppl[0], ppl[1]);
}

TEST(CliThreads, BadThreadCountsFailCleanly) {
  ThreadsCli s;
  for (const char* bad : {"0", "-2", "abc", "1.5", "100000"}) {
    auto r = test::run_command(s.cli + " ppl --model /no/such.bin --text /no/such.txt --threads " + bad);
    test::expect_one_line_error(r, "--threads");
  }
  auto r = test::run_command("DUQUANT_THREADS=zero " + s.cli + " ppl --model /no/such.bin --text /no/such.txt");
  test::expect_one_line_error(r, "DUQUANT_THREADS");
  r = test::run_command(s.cli + " bench gemm --quick --threads 1,0");
  test::expect_one_line_error(r, "--threads");
  // every command takes --threads (listed in its help)
  for (const char* cmd : {"quantize", "ppl", "generate", "compare", "convert", "inspect", "synth"}) {
    r = test::run_command(s.cli + " " + cmd + " --help");
    EXPECT_NE(r.out.find("--threads"), std::string::npos) << cmd << ": " << r.out;
  }
}

TEST(CliThreads, BenchGemmReportsEveryThreadCountAndScaling) {
  ThreadsCli s;
  auto r = test::run_command(s.cli + " bench gemm --json --quick --threads 1,2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::set<std::pair<std::string, int>> seen;
  for (const auto& row : j["gemm"]) seen.insert({row["impl"].get<std::string>(), row["threads"].get<int>()});
  for (const char* impl : {"w4a4", "w8a8", "f32_openblas"})
    for (int t : {1, 2}) EXPECT_TRUE(seen.count({impl, t})) << impl << " at " << t;
  ASSERT_FALSE(j["scaling"].empty());
  for (const auto& sc : j["scaling"]) {
    EXPECT_EQ(sc["threads"].get<int>(), 2);
    EXPECT_GE(sc["ratio"].get<double>(), 0.0);  // (a loaded machine can make 2 threads far slower)
  }
  ASSERT_EQ(j["transform_by_threads"].size(), 2u);
  EXPECT_EQ(j["transform_by_threads"][1]["threads"].get<int>(), 2);
  EXPECT_NE(r.err.find("Thread scaling"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace duq
