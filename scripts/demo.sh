#!/usr/bin/env bash
# The main job on the bundled default assets (stories260K): generate a story, measure perplexity,
# quantize to W4A4 with DuQuant, run the quantized file through the integer kernels, and compare the
# methods. About 3 minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
A="${DUQUANT_ASSETS:-assets}"   # the bundled assets (assets/NOTICE.md) unless DUQUANT_ASSETS says otherwise
if [ ! -f "$A/models/stories260K/stories260K.bin" ]; then
  echo "demo: stories260K not found under $A (the clone ships it in assets/; check DUQUANT_ASSETS)" >&2
  exit 1
fi
bash scripts/setup.sh >/dev/null
bash scripts/build.sh --target duquant
M="$A/models/stories260K/stories260K.bin"
T="$A/models/stories260K/tok512.bin"
mkdir -p out
echo "== 1. generate (float, greedy)"
build/duquant generate --model "$M" --tokenizer "$T" --prompt "Once upon a time" --temperature 0 --max-tokens 120
echo "== 2. perplexity of the float model on eval.txt (paper protocol, ctx 512)"
build/duquant ppl --model "$M" --tokenizer "$T" --text "$A/text/tinystories/eval.txt" --ctx 512
echo "== 3. quantize with DuQuant to W4A4 (weight clip 1, Q/K unclipped: right for this tiny model)"
build/duquant quantize --model "$M" --tokenizer "$T" --method duquant --wbits 4 --abits 4 --swc 1 --qk-clip 1 \
  --calib "$A/text/tinystories/calib.txt" --nsamples 32 --calib-ctx 256 --out out/stories260K-duquant-w4a4.gguf --force
echo "== 4. the quantized file through the integer kernels (and the simulation, for comparison)"
build/duquant ppl --model out/stories260K-duquant-w4a4.gguf --text "$A/text/tinystories/eval.txt" --ctx 512 --check-simulated
build/duquant generate --model out/stories260K-duquant-w4a4.gguf --prompt "Once upon a time" --temperature 0 --max-tokens 60
echo "== 5. compare the methods at W4A4 and W8A8 (first 60 evaluation windows)"
build/duquant compare --model "$M" --tokenizer "$T" --calib "$A/text/tinystories/calib.txt" \
  --text "$A/text/tinystories/eval.txt" --ctx 512 --nsamples 32 --calib-ctx 256 --swc 1 --qk-clip 1 \
  --bits W4A4,W8A8 --max-windows 60 --quiet
