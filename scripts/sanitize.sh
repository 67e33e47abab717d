#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan with
# -DDUQ_SANITIZE=ON (GCC; benchmarks off), builds the test binaries and the CLI the CLI tests run, and
# runs `ctest -L unit` there. Any ASan/UBSan report aborts the test that triggered it (UBSan does not
# recover), so a green run means no finding. Extra arguments go to ctest (e.g. -R Safetensors).
# JOBS (default 2) sets build and test parallelism; BUILD_DIR overrides build-asan.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD_DIR:-build-asan}"
J="${JOBS:-2}"
# -O1 -g1: ASan's usual optimisation level with line tables for its stack traces; compiles about a third
# faster than -O2 -g, which matters on CI's two cores.
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DDUQ_SANITIZE=ON -DDUQ_BUILD_BENCH=OFF >/dev/null
# halt_on_error + abort: a finding is a test failure, never a warning in a log nobody reads.
# detect_leaks=1: LeakSanitizer runs at exit of each test binary.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cmake --build "$B" -j"$J" --target unit_tests  # the unit binaries and the CLI, not the model tests
ctest --test-dir "$B" -L unit --output-on-failure -j"$J" "$@"
