// duquant: the command line. Each subcommand lives in its own cmd_<name>.cc and registers itself here.
#include <cstdio>
#include <exception>

#include "tools/commands.h"

int main(int argc, char** argv) { return duq::tools::run_cli(argc, argv); }
