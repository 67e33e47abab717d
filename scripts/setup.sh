#!/usr/bin/env bash
# Installs the Debian packages duquant's build, tests and benchmarks need. Idempotent: installs only
# what is missing. Run as root (or with sudo available).
#   scripts/setup.sh [--cross-aarch64]   the flag adds the arm64 architecture and the packages of
#                                        scripts/cross_aarch64.sh (CI's portability step); a user never needs it
set -euo pipefail
cross=0
[ "${1:-}" = "--cross-aarch64" ] && cross=1
packages=(
  build-essential cmake ninja-build pkg-config
  ccache                   # .ci/run: the lone-clone demo rebuilds from the test build's cache
  libopenblas-dev          # fp32 GEMM (BLAS)
  nlohmann-json3-dev       # config.json, safetensors headers, --json output
  libcli11-dev             # command-line parsing
  libsentencepiece-dev     # SentencePiece .model tokenizers
  libxxhash-dev            # XXH3 checksums in the quantized .gguf
  libpcre2-dev             # tokenizer.json / GGUF gpt2 pre-tokenizer regexes (Unicode \p{L}, \p{N})
  libcpp-httplib-dev       # duquant serve (HTTP server; tests' HTTP client)
  libgtest-dev libgmock-dev  # tests
  libbenchmark-dev         # bench/
  libdnnl-dev              # oneDNN s8 matmul: the integer-GEMM peer in benchmarks
  chromium                 # headless browser test of the `duquant inspect` HTML report
  jq                       # scripts/eval_results.sh reads eval JSON
  clang libclang-rt-14-dev # libFuzzer targets in fuzz/ (scripts/fuzz.sh)
  clang-tidy-14 clang-format-14  # scripts/tidy.sh (.clang-tidy); .clang-format
)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ $cross = 1 ]; then
  # scripts/cross_aarch64.sh: the cross compiler, qemu-user and the arm64 libraries of the portable layers,
  # from the arm64 architecture of the same Debian mirrors.
  packages+=(g++-aarch64-linux-gnu qemu-user-static libgtest-dev:arm64 libopenblas-dev:arm64)
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
fi
# Node.js + npm: the independent GGUF reader (tools/gguf-check) that tests check our files with.
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The npm packages of the GGUF checker, pinned by its package-lock.json (skipped when already there).
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/tools/gguf-check/package-lock.json" ] && [ ! -d "$here/tools/gguf-check/node_modules/@huggingface" ]; then
  (cd "$here/tools/gguf-check" && npm ci --no-audit --no-fund --loglevel=error) || echo "setup: npm ci failed; the independent GGUF check will be skipped"
fi
