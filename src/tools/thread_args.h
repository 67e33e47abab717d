// --threads N on every command (and DUQUANT_THREADS), added in one place: run_cli gives each leaf subcommand
// that does not define its own (bench gemm / e2e take a list) this option. It sets core/threads.h's count
// before the command runs; without it the count is default_threads() (physical cores the process may use).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace duq::tools {

inline constexpr const char* kThreadsEnv = "DUQUANT_THREADS";

// Adds --threads (env DUQUANT_THREADS) to `app` and, recursively, to its leaf subcommands lacking one.
void add_threads_option(CLI::App& app);

// A comma-separated list of thread counts ("1,2,4"), each an integer ≥ 1; `what` names the option.
std::vector<int> parse_thread_list(const std::string& s, const std::string& what);

}  // namespace duq::tools
