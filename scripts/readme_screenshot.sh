#!/usr/bin/env bash
# The README's picture of `duquant inspect`: the stories260K report (DuQuant W4A4, the error table of
# rtn / smoothquant / rotation / duquant and the perplexity table), screenshotted at 1280 px width into
# docs/images/inspect-stories260K.png. The HTML itself is left in the build folder.
#   scripts/readme_screenshot.sh [BUILD_DIR]     (default: build; needs duquant built and chromium)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
assets=${DUQUANT_ASSETS:-$root/assets}
model=$assets/models/stories260K/stories260K.bin
[ -x "$build/duquant" ] || { echo "readme_screenshot: $build/duquant not built" >&2; exit 1; }
[ -f "$model" ] || { echo "readme_screenshot: $model not found (set DUQUANT_ASSETS)" >&2; exit 1; }
html=$build/inspect-stories260K.html
png=$root/docs/images/inspect-stories260K.png
mkdir -p "$(dirname "$png")"
# Paths relative to the assets folder, so the picture shows no machine-specific folders.
(cd "$assets" && "$build/duquant" inspect --model models/stories260K/stories260K.bin \
  --calib text/tinystories/calib.txt --nsamples 16 --compare --text text/tinystories/eval.txt --ctx 512 \
  --max-windows 8 --quiet --title "DuQuant inspection · stories260K" --out "$html")
"$root/scripts/render_report.sh" "$html" "$png" 1280 "${HEIGHT:-2300}"
size=$(stat -c %s "$png")
if [ "$size" -gt 512000 ]; then
  echo "readme_screenshot: $png is $size bytes (> 500 KB); lower HEIGHT" >&2
  exit 1
fi
