#!/usr/bin/env bash
# Screenshots an HTML report (e.g. from `duquant inspect`) with headless Chromium, offline:
#   scripts/render_report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]     (default 1280 × 2400)
# Chromium: $CHROMIUM, else chromium / chromium-browser from PATH (Debian: apt-get install chromium).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH] [HEIGHT]" >&2
  exit 2
fi
html=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1280}
height=${4:-2400}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "render_report: chromium not found (apt-get install chromium, or set CHROMIUM)" >&2
  exit 1
fi
[ -f "$html" ] || { echo "render_report: $html: no such file" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size="$width,$height" --screenshot="$out" "file://$html" 2>"$profile/log" || {
  cat "$profile/log" >&2
  exit 1
}
[ -s "$out" ] || { cat "$profile/log" >&2; echo "render_report: no screenshot written" >&2; exit 1; }
echo "render_report: $out ($(stat -c %s "$out") bytes, ${width}×${height})"
