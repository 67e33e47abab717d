#!/usr/bin/env bash
# Serving benchmark: `duquant serve` on loopback under scripts/serve_load.py at 1, 4, 16 and 64 concurrent
# streaming requests, for a TinyLlama-1.1B-shaped synthetic model (`duquant synth`, LLaMA-2 tokenizer) in the
# float engine and quantized W4A4 (duquant, short calibration: speed does not depend on it) in the integer
# engine. Writes results/serve-{float,w4a4}.json and README.md's SERVE table. Every level is bounded: 2
# requests per client, --max-seconds per level.
# Usage: scripts/bench_serve.sh            (full TinyLlama shape; ~30 min and ~10 GB on a 2-core machine)
#        SHAPE="--dim 256 --hidden 688 --layers 2 --heads 8 --kv-heads 4 --vocab 32000" scripts/bench_serve.sh  (smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
A="${DUQUANT_ASSETS:-assets}"
DUQ="${DUQ_BIN:-build/duquant}"
SHAPE="${SHAPE:---dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4 --vocab 32000}"
LEVELS="${LEVELS:-1 4 16 64}"
TOKENS="${TOKENS:-32}"
MAXS="${MAX_SECONDS:-300}"
T="$A/tokenizers/llama2/tokenizer.model"
[[ -x $DUQ ]] || bash scripts/build.sh --target duquant >/dev/null
work=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$work"' EXIT
spid=""
mkdir -p results
"$DUQ" synth --out "$work/synth" $SHAPE --max-seq 2048 --dtype f32 >&2
"$DUQ" quantize --model "$work/synth" --tokenizer "$T" --method duquant --wbits 4 --abits 4 --steps 8 \
  --calib "$A/text/tinystories/calib.txt" --nsamples 2 --calib-ctx 64 --out "$work/w4a4.gguf" >&2
for kind in float w4a4; do
  model="$work/synth"; [[ $kind == w4a4 ]] && model="$work/w4a4.gguf"
  "$DUQ" serve --model "$model" --tokenizer "$T" --port 0 --parallel 64 --ctx-size 256 --queue 64 \
    2> "$work/serve-$kind.err" &
  spid=$!
  port=""
  for _ in $(seq 600); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/serve-$kind.err" | sed 's/.*://' || true)
    [[ -n $port ]] && break
    kill -0 $spid 2>/dev/null || { cat "$work/serve-$kind.err" >&2; exit 1; }
    sleep 0.5
  done
  engine=$(curl -s "http://127.0.0.1:$port/v1/models" | jq -r '.data[0].meta.engine')
  {
    echo "{\"engine\": \"$engine\", \"shape\": \"$SHAPE\", \"uptime\": \"$(uptime)\", \"levels\": ["
    sep=""
    for n in $LEVELS; do
      echo -n "$sep"
      python3 scripts/serve_load.py --port "$port" --concurrency "$n" --max-tokens "$TOKENS" --max-seconds "$MAXS"
      sep=","
    done
    echo "]}"
  } > "results/serve-$kind.json.tmp"
  mv "results/serve-$kind.json.tmp" "results/serve-$kind.json"
  kill -TERM $spid 2>/dev/null || true; wait $spid || true; spid=""
done
node scripts/serve_table.mjs results/serve-float.json results/serve-w4a4.json > results/README-serve.md
bash scripts/readme_block.sh SERVE results/README-serve.md
echo "bench_serve: README.md updated" >&2
