// Subcommand registry. Each cmd_<name>.cc defines one subcommand and registers it with a static
// DUQ_REGISTER_COMMAND(...) so that adding a command touches no shared file.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace duq::tools {

struct Command {
  std::string name;
  std::string help;
  // Adds the options to `app` and sets app.callback(...) to do the work. Errors are thrown as duq::Error.
  std::function<void(CLI::App& app)> setup;
};

bool register_command(Command c);
int run_cli(int argc, char** argv);

}  // namespace duq::tools

#define DUQ_CONCAT_INNER(a, b) a##b
#define DUQ_CONCAT(a, b) DUQ_CONCAT_INNER(a, b)
#define DUQ_REGISTER_COMMAND(...) \
  static const bool DUQ_CONCAT(duq_registered_, __LINE__) = ::duq::tools::register_command(__VA_ARGS__)
