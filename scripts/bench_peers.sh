#!/usr/bin/env bash
# Side by side with llama.cpp: a synthetic TinyLlama-1.1B-shaped model (dim 2048, hidden 5632, 22 layers,
# 32 heads / 4 KV heads, vocab 32000) as llama.cpp F32 / Q8_0 / Q4_0 GGUF (llama-bench -p 512 -n 64) beside
# `duquant bench e2e --wall` (float engine, W4A4 and W8A8 integer engines, the same shape), at 1 thread and at
# all threads, interleaved round by round so both see the same stretches of a shared machine. Pairs: W4A4 vs
# Q4_0, W8A8 vs Q8_0, float vs F32 (scripts/peers_table.py: ratios within a round, median and range over rounds).
#
# The GGUF files: `duquant synth` writes the shape with random weights (the speed does not depend on their values;
# duquant's bench draws its own of the same shape), `duquant convert --out f32.gguf` writes it in llama.cpp's
# layout with the bundled LLaMA-2 vocabulary, and llama.cpp's llama-quantize makes Q8_0 and Q4_0 from it.
#
# Skips (exit 0, with a message) when the llama.cpp tools are absent: $LLAMACPP_DIR, else
# ../shared/peers/llama.cpp next to the repository. Never needed by the build or the tests. LLAMACPP_DESC says in
# the table's note which llama.cpp build that is (default: the prebuilt tools of ../shared/peers, or the directory
# and llama-bench's build commit); PEERS_OUT (default results/peers) and PEERS_BLOCK (default PEERS) name where the
# results and the README table go, e.g. a second table for a machine of another kind.
# Usage: scripts/bench_peers.sh            (ROUNDS=3, THREADS="1 <all>", LAYERS=22; ~30–60 min at full size)
#        LAYERS=2 ROUNDS=1 scripts/bench_peers.sh   (a quick smoke run)
# Writes $PEERS_OUT/{llama,duquant-w4a4,duquant-w8a8}-r<round>-t<threads>.json and $PEERS_OUT/summary.json,
# prints the table, and at full size (LAYERS=22, ROUNDS >= 3) puts it in results/README-<out dir name>.md and
# README.md's $PEERS_BLOCK block.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS="${LLAMACPP_DIR:-$ROOT/../shared/peers/llama.cpp}"
for tool in llama-bench llama-quantize; do
  if [ ! -x "$PEERS/$tool" ]; then
    echo "bench_peers: $PEERS/$tool not found (set LLAMACPP_DIR to llama.cpp's tools); skipping"
    exit 0
  fi
done
DUQ="${DUQ_BIN:-build/duquant}"
[ -x "$DUQ" ] || bash scripts/build.sh --target duquant >/dev/null
ROUNDS="${ROUNDS:-3}"
LAYERS="${LAYERS:-22}"
ALL="$("$DUQ" ppl --help | sed -n 's/.*physical cores this process may use, \([0-9]*\) here.*/\1/p' | head -1)"
ALL="${ALL:-$(nproc)}"
THREADS="${THREADS:-1 $ALL}"
[ "$THREADS" = "1 1" ] && THREADS=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/duquant-peers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
OUT="${PEERS_OUT:-results/peers}"
BLOCK="${PEERS_BLOCK:-PEERS}"
TABLE="results/README-$(basename "$OUT").md"
mkdir -p "$OUT"

echo "bench_peers: a TinyLlama-shaped model ($LAYERS layers) in $WORK: duquant synth, duquant convert to an F32 GGUF"
"$DUQ" synth --out "$WORK/synth" --dim 2048 --hidden 5632 --layers "$LAYERS" --heads 32 --kv-heads 4 --vocab 32000 \
  --dtype f16 >"$WORK/synth.log" 2>&1 || { tail -5 "$WORK/synth.log"; exit 1; }
"$DUQ" convert --model "$WORK/synth" --tokenizer assets/tokenizers/llama2/tokenizer.model --out "$WORK/f32.gguf" \
  >"$WORK/convert.log" 2>&1 || { tail -5 "$WORK/convert.log"; exit 1; }
rm -rf "$WORK/synth"
for q in Q8_0 Q4_0; do
  "$PEERS/llama-quantize" "$WORK/f32.gguf" "$WORK/$q.gguf" "$q" >"$WORK/quantize-$q.log" 2>&1 ||
    { tail -5 "$WORK/quantize-$q.log"; exit 1; }
done
MODELS="$WORK/Q4_0.gguf,$WORK/Q8_0.gguf,$WORK/f32.gguf"

for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    echo "bench_peers: round $r/$ROUNDS, $t thread(s): llama-bench"
    "$PEERS/llama-bench" -m "$MODELS" -p 512 -n 64 -t "$t" -r 1 -o json >"$OUT/llama-r$r-t$t.json" 2>"$WORK/llama.log"
    for bits in 4 8; do
      echo "bench_peers: round $r/$ROUNDS, $t thread(s): duquant bench e2e W${bits}A${bits}"
      "$DUQ" bench e2e --wall --json --layers "$LAYERS" --threads "$t" --wbits "$bits" --abits "$bits" \
        >"$OUT/duquant-w${bits}a${bits}-r$r-t$t.json" 2>"$WORK/duq.log" || { tail -5 "$WORK/duq.log"; exit 1; }
    done
  done
done
echo "uptime: $(uptime)"

if [ -z "${LLAMACPP_DESC:-}" ]; then
  if [ -n "${LLAMACPP_DIR:-}" ]; then
    commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0].get("build_commit", "unknown"))' \
      "$OUT/llama-r1-t$(echo "$THREADS" | cut -d' ' -f1).json")
    LLAMACPP_DESC="llama-bench of $LLAMACPP_DIR (build $commit)"
  else
    LLAMACPP_DESC="the prebuilt llama-bench of ../shared/peers"
  fi
fi
python3 scripts/peers_table.py "$OUT" "$ROUNDS" "$THREADS" "$LAYERS" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uptime | sed 's/.*load average/load average/')" \
  "$LLAMACPP_DESC" "$BLOCK" >"$TABLE.tmp"
cat "$TABLE.tmp"
if [ "$LAYERS" = 22 ] && [ "$ROUNDS" -ge 3 ]; then
  mv "$TABLE.tmp" "$TABLE"
  bash scripts/readme_block.sh "$BLOCK" "$TABLE"
  echo "bench_peers: README.md updated" >&2
else
  rm -f "$TABLE.tmp"
  echo "bench_peers: smoke run (LAYERS=$LAYERS, ROUNDS=$ROUNDS): README.md left as it is" >&2
fi
