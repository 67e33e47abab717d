#!/usr/bin/env bash
# Regenerates the results tables of README.md from real runs of `duquant compare` on stories260K
# (the issue's protocol: 32 calibration windows of 256 tokens from calib.txt, evaluation on eval.txt with
# ctx 512, paper protocol). Writes results/*.json and rewrites the README between the RESULTS markers.
# Also measures the integer engine against the simulation (results/agreement-*.json, the AGREEMENT block).
# Takes ~40–50 min on an idle 2-core machine (two runs at a time, DUQ_JOBS to change).
# Usage: scripts/results.sh [extra compare flags]
#        RESULTS_ONLY=name1,name2 scripts/results.sh: only those compare rows (results/NAME.json), no agreement runs;
#        the README tables are then regenerated from every results/*.json (e.g. RESULTS_ONLY=stories260K-wide16).
set -euo pipefail
cd "$(dirname "$0")/.."
A="${DUQUANT_ASSETS:-assets}"
bash scripts/build.sh >/dev/null
DUQ="${DUQ_BIN:-build/duquant}"
# Each of the DUQ_JOBS concurrent runs gets its share of the cores (every result is bit-identical at any thread
# count): runs that each take all cores spin on OpenMP barriers against each other (two 2-thread compares on the
# 2-core machine, beside other load, used ~40 CPU-minutes each without finishing the larger compare).
jobs_n="${DUQ_JOBS:-2}"
share=$(( $(nproc) / jobs_n ))
export DUQUANT_THREADS="${DUQUANT_THREADS:-$(( share > 0 ? share : 1 ))}"
mkdir -p results
common=(--model "$A/models/stories260K/stories260K.bin" --calib "$A/text/tinystories/calib.txt"
        --text "$A/text/tinystories/eval.txt" --ctx 512 --nsamples 32 --calib-ctx 256 --quiet --json "$@")
paper="fp,rtn,smoothquant,rotation,duquant"
all="$paper,rotation+gptq,duquant+gptq,duquant+lwc,duquant-auto"
weights="rtn,adadim,gptq,adadim+gptq"

# run NAME compare-flags…: one compare into results/NAME.json, at most DUQ_JOBS at a time.
pids=()
only="${RESULTS_ONLY:-}"
run() {
  local name=$1
  shift
  [[ -z $only || ",$only," == *",$name,"* ]] || return 0
  while (($(jobs -rp | wc -l) >= ${DUQ_JOBS:-2})); do wait -n || true; done
  "$DUQ" compare "${common[@]}" "$@" > "results/$name.json.tmp" && mv "results/$name.json.tmp" "results/$name.json" &
  pids+=($!)
}
# 1. The paper's default settings (weight clip 0.8, activation and Q/K clip 0.9, block 128 clamped to each
#    input's width); the randomized methods at W4A4 over three seeds. duquant-auto ignores the clip flags.
run stories260K-paper-defaults --methods "$all" --bits W4A4,W4A8 --seeds 3,4
run stories260K-paper-defaults-w6w8 --methods "$paper,duquant-auto" --bits W6A6,W8A8
# 2. Clipping that suits this tiny model (spec §10): weight clip 1, Q/K unclipped, activations 0.9.
run stories260K-noclip --methods "$all" --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4
# 3. All clipping off at W8A8.
run stories260K-w8a8-noclip --methods "$paper,duquant-auto" --bits W8A8 --swc 1 --lac 1
# 4. Weight-only: per-channel and group-32 weights, AdaDim's per-IC/per-OC choice with RTN and with GPTQ.
run stories260K-weight-only --methods "$weights" --bits W3A16,W4A16
run stories260K-weight-only-g32 --methods "$weights" --bits W3A16,W4A16 --group-size 32
# 4b. Beyond DuQuant (issue 21), in the clipping of section 2: learned rotations (duquant+learn) beside
#     duquant+lwc, and norm tweaking on top of each method; the note column has the block losses before/after.
run stories260K-learn --methods duquant+lwc,duquant+learn --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4
run stories260K-norm-tweak --methods duquant,duquant+lwc,duquant+learn,duquant-auto --bits W4A4,W4A8 --swc 1 --qk-clip 1 \
  --seeds 3,4 --norm-tweak
# 4c. Wide channels (--wide-channels K, QUIK's 8-bit outlier channels on top of the transform), same clipping:
#     K = 16 and 32 of the 64 channels of stories260K's narrowest inputs (a far larger share than K = 128 of
#     LLaMA-2-7B's 4096), with norm tweaking at K = 32, and duquant-auto (its own clips) at both.
run stories260K-wide16 --methods duquant,duquant+gptq,duquant+lwc --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4 \
  --wide-channels 16
run stories260K-wide32 --methods duquant,duquant+gptq,duquant+lwc --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4 \
  --wide-channels 32
run stories260K-wide32-norm-tweak --methods duquant+gptq,duquant+lwc --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4 \
  --wide-channels 32 --norm-tweak
run stories260K-wide16-auto --methods duquant-auto --bits W4A4,W4A8 --seeds 3,4 --wide-channels 16
run stories260K-wide32-auto-norm-tweak --methods duquant-auto --bits W4A4,W4A8 --seeds 3,4 --wide-channels 32 --norm-tweak
# 4d. Key centering (--k-center: each layer's calibration mean of K after RoPE subtracted from every key before
#     K is quantized; exact in float), same clipping: the paper's methods and ours, then on top of the best
#     combination above (K = 32 wide channels, norm tweaking).
run stories260K-k-center --methods "$all" --bits W4A4,W4A8 --swc 1 --qk-clip 1 --seeds 3,4 --k-center
run stories260K-k-center-wide32-norm-tweak --methods duquant+gptq,duquant+lwc,duquant-auto --bits W4A4,W4A8 --swc 1 \
  --qk-clip 1 --seeds 3,4 --wide-channels 32 --norm-tweak --k-center
# RESULTS_ONLY: the named rows only, then the tables from every results/*.json (no agreement runs).
if [[ -n $only ]]; then
  status=0
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  ((status == 0)) || { echo "results: a compare run failed; README.md left as it was" >&2; exit 1; }
  pids=()
fi
# 5. Integer engine against the simulation (README "Results" preamble): duquant W4A4 and W8A8 over three seeds,
#    `ppl --check-simulated` on all of eval.txt with the default int16 rotations and with --exact-rotations.
agree() {  # agree BITS SEED: results/agreement-BITS-sSEED-{int16,exact}.json
  local bits=$1 seed=$2 f="results/agreement-$1-s$2.gguf"
  "$DUQ" quantize --model "$A/models/stories260K/stories260K.bin" --calib "$A/text/tinystories/calib.txt" --nsamples 32 \
    --calib-ctx 256 --quiet --wbits "${bits:1:1}" --abits "${bits:3:1}" --seed "$seed" --out "$f" --force
  for mode in int16 exact; do
    "$DUQ" ppl --model "$f" --text "$A/text/tinystories/eval.txt" --ctx 512 --check-simulated --json \
      $([[ $mode == exact ]] && echo --exact-rotations) > "results/agreement-$bits-s$seed-$mode.json"
  done
  rm -f "$f"
}
for bits in W4A4 W8A8; do
  for seed in 2 3 4; do
    [[ -z $only ]] || break 2
    while (($(jobs -rp | wc -l) >= ${DUQ_JOBS:-2})); do wait -n || true; done
    agree "$bits" "$seed" &
    pids+=($!)
  done
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
((status == 0)) || { echo "results: a compare run failed; README.md left as it was" >&2; exit 1; }

table() { node scripts/results_table.mjs "$@"; }
{
  echo "<!-- RESULTS:BEGIN (generated by scripts/results.sh from results/*.json; do not edit by hand) -->"
  echo "**stories260K, paper defaults** (swc 0.8, lac 0.9, Q/K clip 0.9; duquant-auto chooses its own clips):"
  echo
  table results/stories260K-paper-defaults.json results/stories260K-paper-defaults-w6w8.json
  echo
  echo "**stories260K, weight clip 1 and Q/K unclipped** (the setting of spec §10):"
  echo
  table results/stories260K-noclip.json
  echo
  echo "**stories260K, learned rotations** (weight clip 1, Q/K unclipped; duquant+learn: LWC with a learned rotation after R₂):"
  echo
  table results/stories260K-learn.json
  echo
  echo "**stories260K, norm tweaking** (\`--norm-tweak\`; weight clip 1, Q/K unclipped):"
  echo
  table results/stories260K-norm-tweak.json
  echo
  echo "**stories260K, wide channels** (\`--wide-channels K\`: per linear input the K channels of x·G with the largest"
  echo "calibration magnitude at 8 bits, activations and weight columns; weight clip 1, Q/K unclipped; stories260K's inputs"
  echo "are 64, 64, 64 and 172 wide, so K = 16 / 32 keeps a quarter / half of most inputs at 8 bits):"
  echo
  echo "K = 16 (duquant-auto chooses its own clips, its candidates compared with their wide channels in place):"
  echo
  table results/stories260K-wide16.json results/stories260K-wide16-auto.json
  echo
  echo "K = 32, and with norm tweaking (the rows whose note has a norm tweak loss):"
  echo
  table results/stories260K-wide32.json results/stories260K-wide32-norm-tweak.json \
    results/stories260K-wide32-auto-norm-tweak.json
  echo
  echo "**stories260K, keys centered** (\`--k-center\`: each layer's calibration mean of K after RoPE subtracted from"
  echo "every key before K is quantized — exact, since softmax ignores a shift common to all of a query's logits; weight"
  echo "clip 1, Q/K unclipped, duquant-auto its own clips):"
  echo
  table results/stories260K-k-center.json
  echo
  echo "Keys centered, with K = 32 wide channels and norm tweaking:"
  echo
  table results/stories260K-k-center-wide32-norm-tweak.json
  echo
  echo "**stories260K, W8A8 with all clipping off** (every method should be within 2% of fp):"
  echo
  table results/stories260K-w8a8-noclip.json
  echo
  echo "**stories260K, weight-only, per output channel** (AdaDim: per-IC or per-OC groups per module; paper weight clip 0.8):"
  echo
  table results/stories260K-weight-only.json
  echo
  echo "**stories260K, weight-only, groups of 32** (weight clip 0.8):"
  echo
  table results/stories260K-weight-only-g32.json
  echo "<!-- RESULTS:END -->"
} > results/README-results.md
bash scripts/readme_block.sh RESULTS results/README-results.md

# "min–max%" of relative_difference over the seeds of one bit width and rotation mode.
spread() {
  for s in 2 3 4; do node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(100 * j.relative_difference)' \
    "results/agreement-$1-s$s-$2.json"; done | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f–%.3f%%", lo, hi }'
}
{
  echo "<!-- AGREEMENT:BEGIN (generated by scripts/results.sh from results/agreement-*.json; do not edit by hand) -->"
  echo "Measured by \`scripts/results.sh\` on this machine ($(uname -m), $(nproc) cores), duquant seeds 2–4, all of"
  echo "\`eval.txt\`: |ppl(integer) − ppl(simulated)| / ppl(simulated) = W4A4 $(spread W4A4 int16) with the default int16"
  echo "rotations, $(spread W4A4 exact) with \`--exact-rotations\`; W8A8 $(spread W8A8 int16) and $(spread W8A8 exact)."
  echo "<!-- AGREEMENT:END -->"
} > results/README-agreement.md
bash scripts/readme_block.sh AGREEMENT results/README-agreement.md
echo "results: README.md updated"
