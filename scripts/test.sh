#!/usr/bin/env bash
# The test command of README.md: install packages, build, run every test (unit + real-model).
# Real-model tests read the assets from $DUQUANT_ASSETS (default: the bundled assets/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"${JOBS:-2}" "$@"
