#!/usr/bin/env bash
# Task-scoring speed (issue 19, item 3): `duquant eval --task piqa` documents per second on the bundled PIQA
# validation set, for stories260K and a TinyLlama-1.1B-shaped synthetic model (`duquant synth`, LLaMA-2
# tokenizer), each in the float engine and quantized W4A4 (duquant, short calibration: speed does not depend
# on it) in the integer engine, three ways:
#   naive       --no-prefix-cache --batch-size 1   one whole sequence per choice, one at a time
#   prefix, 1   --batch-size 1                     a document's context once, its choices continue from it
#   prefix, B   --batch-size $BATCH                the same for B documents per forward pass
# Repetitions interleave the three ways (rep 1: naive, prefix 1, prefix B; rep 2: …) so that a change in the
# machine's load hits all of them; the table shows medians and ratios. Writes results/bench-tasks.json and
# README.md's TASKS block (scripts/tasks_table.mjs).
# Usage: scripts/bench_tasks.sh          (full: ~25 min on an idle 2-core machine, ~10 GB for the synthetic model)
#        LIMIT_SMALL=40 LIMIT_SYNTH=4 REPS=1 SHAPE="--dim 256 --hidden 688 --layers 2 --heads 8 --kv-heads 4 --vocab 32000" \
#          scripts/bench_tasks.sh    (smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
A="${DUQUANT_ASSETS:-assets}"
DUQ="${DUQ_BIN:-build/duquant}"
SHAPE="${SHAPE:---dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4 --vocab 32000}"
LIMIT_SMALL="${LIMIT_SMALL:-600}"  # PIQA documents per run on stories260K
LIMIT_SYNTH="${LIMIT_SYNTH:-16}"   # … on the synthetic model (one batch of 16)
REPS="${REPS:-3}"
BATCH="${BATCH:-16}"
THREADS="${THREADS:-}"             # eval --threads (default: eval's, the physical cores)
PIQA="$A/tasks/piqa"
S="$A/models/stories260K/stories260K.bin"
ST="$A/models/stories260K/tok512.bin"
LT="$A/tokenizers/llama2/tokenizer.model"
[[ -x $DUQ ]] || bash scripts/build.sh --target duquant >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p results
calib=(--method duquant --wbits 4 --abits 4 --calib "$A/text/tinystories/calib.txt" --nsamples 2 --calib-ctx 64)
"$DUQ" quantize --model "$S" --tokenizer "$ST" "${calib[@]}" --out "$work/stories-w4a4.gguf" >&2
# shellcheck disable=SC2086  # $SHAPE: several options
"$DUQ" synth --out "$work/synth" $SHAPE --max-seq 2048 --dtype f32 >&2
"$DUQ" quantize --model "$work/synth" --tokenizer "$LT" "${calib[@]}" --steps 8 --out "$work/synth-w4a4.gguf" >&2

# name | model | tokenizer | limit
models=("stories260K|$S|$ST|$LIMIT_SMALL" "stories260K|$work/stories-w4a4.gguf||$LIMIT_SMALL"
        "synthetic|$work/synth|$LT|$LIMIT_SYNTH" "synthetic|$work/synth-w4a4.gguf||$LIMIT_SYNTH")
ways=("naive|--no-prefix-cache --batch-size 1" "prefix, batch 1|--batch-size 1" "prefix, batch $BATCH|--batch-size $BATCH")
uptime_start=$(uptime)
: > "$work/runs.jsonl"
for rep in $(seq "$REPS"); do
  for m in "${models[@]}"; do
    IFS='|' read -r name model tok limit <<< "$m"
    for w in "${ways[@]}"; do
      IFS='|' read -r way flags <<< "$w"
      # shellcheck disable=SC2086  # $flags: several options
      "$DUQ" eval --model "$model" ${tok:+--tokenizer "$tok"} --task piqa --data "$PIQA" --limit "$limit" --json \
        $flags ${THREADS:+--threads "$THREADS"} > "$work/eval.json" 2> "$work/eval.err" || { cat "$work/eval.err" >&2; exit 1; }
      jq -c --arg name "$name" --arg way "$way" --argjson rep "$rep" \
        '{model: $name, engine: .config.engine, way: $way, rep: $rep, docs: .speed.docs,
          docs_per_second: .speed.docs_per_second, forward_tokens: .speed.forward_tokens,
          acc: .results.piqa["acc,none"], acc_norm: .results.piqa["acc_norm,none"]}' \
        "$work/eval.json" | tee -a "$work/runs.jsonl" >&2
    done
  done
done
jq -s --arg shape "$SHAPE" --arg u0 "$uptime_start" --arg u1 "$(uptime)" --argjson batch "$BATCH" \
  '{shape: $shape, batch: $batch, uptime_start: $u0, uptime_end: $u1, runs: .}' "$work/runs.jsonl" \
  > results/bench-tasks.json.tmp
mv results/bench-tasks.json.tmp results/bench-tasks.json
node scripts/tasks_table.mjs results/bench-tasks.json > results/README-tasks.md
bash scripts/readme_block.sh TASKS results/README-tasks.md
echo "bench_tasks: README.md updated" >&2
