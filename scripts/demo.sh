#!/usr/bin/env bash
# The main job on the bundled default assets: generate a story with stories260K and measure its
# perplexity on TinyStories text.
set -euo pipefail
cd "$(dirname "$0")/.."
A="${DUQUANT_ASSETS:-../shared/assets}"
bash scripts/setup.sh >/dev/null
bash scripts/build.sh
M="$A/models/stories260K/stories260K.bin"
T="$A/models/stories260K/tok512.bin"
echo "== generate (greedy, 200 tokens)"
build/duquant generate --model "$M" --tokenizer "$T" --prompt "Once upon a time" --temperature 0 --max-tokens 200
echo "== perplexity on eval.txt (paper protocol, ctx 512)"
build/duquant ppl --model "$M" --tokenizer "$T" --text "$A/text/tinystories/eval.txt" --ctx 512
