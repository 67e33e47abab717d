#include "tools/thread_args.h"

#include "core/error.h"
#include "core/threads.h"

namespace duq::tools {

void add_threads_option(CLI::App& app) {
  if (!app.get_subcommands({}).empty()) {
    for (CLI::App* sub : app.get_subcommands({})) add_threads_option(*sub);
    return;
  }
  if (app.get_option_no_throw("--threads")) return;
  const std::string what = std::string("--threads / ") + kThreadsEnv;
  app.add_option_function<std::string>(
         "--threads", [what](const std::string& s) { set_threads(parse_threads(s, what)); },
         "threads to run on (default: the physical cores this process may use, " + std::to_string(default_threads()) +
             " here; also " + kThreadsEnv + "); results are bit-identical for any count")
      ->envname(kThreadsEnv)
      ->type_name("N");
}

std::vector<int> parse_thread_list(const std::string& s, const std::string& what) {
  std::vector<int> out;
  size_t i = 0;
  while (true) {
    const size_t j = s.find(',', i);
    out.push_back(parse_threads(s.substr(i, j == std::string::npos ? std::string::npos : j - i), what));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return out;
}

}  // namespace duq::tools
