#!/usr/bin/env bash
# Configures and builds duquant (Release) into build/. Arguments go to the build step, e.g.
#   scripts/build.sh --target duquant      (the CLI alone, without the tests and benchmarks)
# CMAKE_ARGS (env) goes to the configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build build -j"${JOBS:-2}" "$@"
