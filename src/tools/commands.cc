#include "tools/commands.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "kernels/gemm_f32.h"
#include "tools/thread_args.h"

namespace duq::tools {

// Messages are printed on one line (a newline in a file name or a library message would split them).
static std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

static std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

bool register_command(Command c) {
  registry().push_back(std::move(c));
  return true;
}

// OpenBLAS reads its settings when the library loads, so the two it needs from us are set here and the program
// re-executed once (the new process finds them set and goes on):
// - OPENBLAS_CORETYPE when OpenBLAS chose kernels below the CPU's ISA (kernels::openblas_core_to_request: its SSE3
//   fallback on CPUs it does not know). Calibration runs its float products through sgemm: on a LLaMA-2-7B-shaped
//   block (4096 calibration tokens, one core of this project's AVX-512 machine) statistics 149 → 29 s and the
//   search 234 → 72 s for two blocks. A user's own OPENBLAS_CORETYPE is left alone.
// - Under an address-space limit (`ulimit -v`) every OpenBLAS thread maps a 128 MiB buffer (worker threads at
//   start, whatever openblas_set_num_threads says later) and, when the mapping fails, retries forever: the
//   process hangs instead of reporting out of memory. So under a limit run OpenBLAS with one thread and take its
//   buffer first (a 1×1 product), while memory is still free; later failures are ordinary std::bad_alloc,
//   reported below.
static void configure_blas(char** argv) {
  struct rlimit rl;
  const bool limited = ::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
  bool reexec = false;
  if (limited && !std::getenv("OPENBLAS_NUM_THREADS")) {
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    reexec = true;
  }
  if (const char* core = kernels::openblas_core_to_request()) {
    ::setenv("OPENBLAS_CORETYPE", core, 1);
    reexec = true;
  }
  if (reexec) ::execv("/proc/self/exe", argv);  // returns only on failure: go on with what there is
  if (!limited) return;
  num_threads();  // settles the thread count, which keeps OpenBLAS at one thread (core/threads.h)
  // If even that buffer does not fit, OpenBLAS would spin in its first product: stop here, with a message.
  constexpr size_t kBlasBuffer = (128u << 20) + (1u << 20);
  void* probe =
      ::mmap(nullptr, kBlasBuffer, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (probe == MAP_FAILED) {
    std::fprintf(stderr,
                 "duquant: error: out of memory (the address-space limit, ulimit -v, leaves no room for the "
                 "BLAS library's 128 MiB work buffer)\n");
    std::_Exit(1);
  }
  ::munmap(probe, kBlasBuffer);
  Mat a(1, 1), b(1, 1), c(1, 1);
  kernels::matmul(a, b, c, false);
}

int run_cli(int argc, char** argv) {
  configure_blas(argv);
  CLI::App app{"duquant — DuQuant W4A4 quantization and integer inference for LLaMA-family models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "duquant 0.1");
  auto cmds = registry();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    c.setup(*sub);
    add_threads_option(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line: the option and what is wrong with its value (option_checks.h phrases the range).
    std::fprintf(stderr, "duquant: error: %s (see --help)\n", one_line(e.what()).c_str());
    return 1;
  } catch (const duq::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "duquant: error: %s\n", one_line(e.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    // Exit now: returning would run the exit handlers, which join OpenBLAS / OpenMP workers that may be
    // stuck retrying an allocation of their own (a hang under `ulimit -v`). Output files are temporary
    // until committed; the AtomicFile destructors have already run while unwinding to here.
    std::fflush(stdout);
    std::fprintf(stderr, "duquant: error: out of memory\n");
    std::fflush(stderr);
    std::_Exit(1);
  } catch (const std::filesystem::filesystem_error& e) {
    // Paths the checks upstream did not anticipate (a name longer than 255 bytes, a symlink loop, ...).
    std::fflush(stdout);
    std::fprintf(stderr, "duquant: error: %s: %s\n", e.path1().empty() ? "(empty path)" : e.path1().c_str(),
                 e.code().message().c_str());
    return 1;
  } catch (const std::exception& e) {
    // Anything else is a bug, but it still ends as one line and status 1, never an abort.
    std::fflush(stdout);
    std::fprintf(stderr, "duquant: error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace duq::tools
