#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan) into build-fuzz, writes the seed corpora
# into build-fuzz/corpus/<target> and runs every target for SECONDS_EACH seconds (default 45).
#   scripts/fuzz.sh [SECONDS_EACH] [TARGET...]      e.g. scripts/fuzz.sh 30 fuzz_safetensors
# The corpus grows across runs (it lives in build-fuzz, never committed). A crash leaves its input in
# build-fuzz/crashes/<target>/ and fails the script; reproduce it with
#   build-fuzz/<target> build-fuzz/crashes/<target>/crash-...
# Each target's exec count is printed at the end (and written to build-fuzz/stats.txt).
# Env: CXX (default clang++-14, else clang++), JOBS (build parallelism, default 2), DUQUANT_ASSETS.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-45}"
shift || true
B=build-fuzz
A="${DUQUANT_ASSETS:-assets}"
export DUQUANT_ASSETS="$A"
if [ -z "${CXX:-}" ]; then
  CXX=clang++-14
  command -v "$CXX" >/dev/null || CXX=clang++
fi
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

cmake -S fuzz -B "$B" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"${JOBS:-2}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for t in fuzz_safetensors fuzz_hf_config fuzz_llama2c_checkpoint fuzz_llama2c_tokenizer fuzz_bpe_encode fuzz_gguf \
           fuzz_gguf_checksum; do
    [ -x "$B/$t" ] && targets+=("$t")
  done
fi

# Seeds: generated files of every format, plus the small hand-written ones committed in fuzz/seeds/.
rm -rf "$B/seeds"
"$B/make_seeds" "$B/seeds" "$A"
[ -d fuzz/seeds ] && cp -r fuzz/seeds/. "$B/seeds/"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:malloc_limit_mb=2048}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
: >"$B/stats.txt"
status=0
for t in "${targets[@]}"; do
  name="${t#fuzz_}"
  corpus="$B/corpus/$name"
  crashes="$B/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  [ -d "$B/seeds/$name" ] && cp -n "$B/seeds/$name"/* "$corpus/" 2>/dev/null || true
  log="$B/$t.log"
  max_len=16384
  [ "$t" = fuzz_bpe_encode ] && max_len=1024  # text: long inputs only slow the O(n log n) encoder down
  # -rss_limit_mb / -malloc_limit_mb: an allocation a hostile header could trigger counts as a crash.
  # -timeout: a single input taking seconds (quadratic blow-up) is a finding too.
  set +e
  "$B/$t" "$corpus" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=$max_len -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  per_s=$(grep -o 'exec/s: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
  if [ $rc -ne 0 ]; then
    echo "$t: FAILED (exit $rc) after $runs executions; see $log and $crashes/" | tee -a "$B/stats.txt"
    grep -m5 -E 'ERROR|SUMMARY|violated|==[0-9]+==' "$log" || true
    status=1
  else
    echo "$t: $runs executions in ${SECS}s (${per_s} exec/s), no crash; corpus $(ls "$corpus" | wc -l) files" | tee -a "$B/stats.txt"
  fi
done
exit $status
