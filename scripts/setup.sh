#!/usr/bin/env bash
# Installs the Debian packages duquant's build, tests and benchmarks need. Idempotent: installs only
# what is missing. Run as root (or with sudo available).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev          # fp32 GEMM (BLAS)
  nlohmann-json3-dev       # config.json, safetensors headers, --json output
  libcli11-dev             # command-line parsing
  libsentencepiece-dev     # SentencePiece .model tokenizers
  libgtest-dev libgmock-dev  # tests
  libbenchmark-dev         # bench/
  libdnnl-dev              # oneDNN s8 matmul: the integer-GEMM peer in benchmarks
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
