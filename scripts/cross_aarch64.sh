#!/usr/bin/env bash
# Cross-builds the portable part of duquant for aarch64 (Debian's g++-aarch64-linux-gnu) and runs its unit tests
# under qemu-user: the scalar reference of every kernel must build and pass outside x86 (no <cpuid.h>, no -mavx
# flags, run-time dispatch falls back to scalar).
#
# Default (the CI step, sized for ≤ 5 minutes on 2 cores): test_core and test_kernels, all their unit tests but
# the four slowest under emulation (listed in `slow` below with what they cover; each is ISA-independent
# integer or threading logic that the native run checks, and on aarch64 every "ISA" is the scalar path).
# --all: also test_quant and test_transform, and no test left out (~25 minutes of emulated test time).
#
# Configured with DUQ_PORTABLE_SUBSET (core, kernels, quant, transform). Left out everywhere: formats, model,
# calib, eval, tools and their tests, because Debian 12's libsentencepiece-dev cannot be installed for arm64
# beside the amd64 one the host build needs (the arm64 package removes it); libxxhash-dev and libpcre2-dev would
# co-install, but formats needs SentencePiece anyway.
# Needs (installed first by `scripts/setup.sh --cross-aarch64`): dpkg --add-architecture arm64,
# g++-aarch64-linux-gnu, qemu-user-static, libgtest-dev:arm64, libopenblas-dev:arm64.
# Usage: scripts/cross_aarch64.sh [--all] [build-dir]   (default build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
all=0
if [ "${1:-}" = "--all" ]; then all=1; shift; fi
dir="${1:-build-aarch64}"
targets=(test_core test_kernels)
[ $all = 1 ] && targets+=(test_quant test_transform)
# Seconds under qemu on the loaded 2-core machine: 229, 187, 71, 76.
slow='ActTransformInt16.AdversarialRowAtTheOverflowBound|ThreadsKernels.IntGemmSameBitsAtEveryThreadCount'
slow+='|ThreadsKernels.TransformQuantizeSameBitsAtEveryThreadCount|IntGemmBlocking.MultiBlockKAndAllTileTailsBitIdentical'
exclude=()
[ $all = 1 ] || exclude=(-E "$slow")
# Under qemu-user a program's threads hang unless it is linked statically (the toolchain file does); OpenBLAS's
# own pool is not needed (core/threads.h keeps BLAS at one thread). Set before the build: gtest_discover_tests
# runs the test programs.
export OPENBLAS_NUM_THREADS=1
bash scripts/setup.sh --cross-aarch64 >/dev/null
t0=$SECONDS
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64-linux-gnu.cmake" \
  -DDUQ_PORTABLE_SUBSET=ON -DDUQ_BUILD_BENCH=OFF "${launcher[@]}" >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
echo "cross_aarch64: built in $((SECONDS - t0)) s"
! command -v file >/dev/null || file "$dir/tests/test_kernels" | grep -q "ARM aarch64" || { echo "cross_aarch64: test_kernels is not an aarch64 program" >&2; exit 1; }
t1=$SECONDS

ctest --test-dir "$dir" -L unit "${exclude[@]}" -j"$(nproc)" --output-on-failure --timeout 600
echo "cross_aarch64: unit tests passed under qemu in $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
