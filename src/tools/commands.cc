#include "tools/commands.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "tools/thread_args.h"

namespace duq::tools {

static std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

bool register_command(Command c) {
  registry().push_back(std::move(c));
  return true;
}

int run_cli(int argc, char** argv) {
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
    std::fprintf(stderr, "duquant: %s\n", e.what());
    std::fprintf(stderr, "Run with --help for the options.\n");
    return 1;
  } catch (const duq::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "duquant: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "duquant: error: out of memory\n");
    return 1;
  }
  return 0;
}

}  // namespace duq::tools
