#!/usr/bin/env bash
# Builds llama.cpp's llama-bench and llama-quantize for THIS machine's ISA, for scripts/bench_peers.sh on machines
# the prebuilt ../shared/peers tools cannot run on (they need AVX-512 + VNNI: "Illegal instruction" on an AVX2-only
# CPU). Never used by the build or the tests.
#
# Source: the llama.cpp snapshot that npm's node-llama-cpp package carries as a git bundle (llama/gitRelease.bundle;
# node-llama-cpp 3.22.1 holds llama.cpp de3ff81, September 2026, MIT licence) — the npm registry is reachable where
# GitHub is not. Or pass a llama.cpp checkout as SRC.
# Usage: scripts/build_llamacpp_peer.sh [OUT_DIR]        (default ../llamacpp-peer; ~15 min on 2 cores)
#        SRC=/path/to/llama.cpp scripts/build_llamacpp_peer.sh
# Then: LLAMACPP_DIR=OUT_DIR/build/bin PEERS_OUT=results/peers-avx2 PEERS_BLOCK=PEERS_AVX2 scripts/bench_peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(realpath -m "${1:-../llamacpp-peer}")"
NLC_VERSION="${NLC_VERSION:-3.22.1}"
mkdir -p "$OUT"
if [ -z "${SRC:-}" ]; then
  SRC="$OUT/llama.cpp"
  if [ ! -d "$SRC/.git" ]; then
    echo "build_llamacpp_peer: fetching node-llama-cpp@$NLC_VERSION from npm for its llama.cpp bundle" >&2
    (cd "$OUT" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null &&
      tar xzf "node-llama-cpp-$NLC_VERSION.tgz" package/llama/gitRelease.bundle &&
      git clone -q package/llama/gitRelease.bundle llama.cpp && rm -rf package "node-llama-cpp-$NLC_VERSION.tgz")
  fi
fi
# The ISA flags of this CPU (no -march=native, so the binaries say what they use); the rest as ../shared/peers.
has() { grep -m1 '^flags' /proc/cpuinfo | grep -qw "$1"; }
onoff() { if has "$1"; then echo ON; else echo OFF; fi; }
echo "build_llamacpp_peer: building $(git -C "$SRC" log -1 --format=%h) in $SRC/build" >&2
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON \
  -DGGML_AVX2="$(onoff avx2)" -DGGML_FMA="$(onoff fma)" -DGGML_F16C="$(onoff f16c)" -DGGML_BMI2="$(onoff bmi2)" \
  -DGGML_AVX512="$(onoff avx512f)" -DGGML_AVX512_VNNI="$(onoff avx512_vnni)" -DGGML_AVX512_BF16=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF >"$OUT/cmake.log" 2>&1 || { tail -20 "$OUT/cmake.log"; exit 1; }
cmake --build "$SRC/build" -j"$(nproc)" --target llama-bench llama-quantize >"$OUT/build.log" 2>&1 ||
  { tail -20 "$OUT/build.log"; exit 1; }
echo "build_llamacpp_peer: $SRC/build/bin/llama-bench and llama-quantize" >&2
