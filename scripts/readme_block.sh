#!/usr/bin/env bash
# Replaces the generated block of README.md between "<!-- NAME:BEGIN" and "<!-- NAME:END -->" with FILE (which
# carries both markers itself). Usage: scripts/readme_block.sh NAME FILE
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 file=$2
grep -q "<!-- $name:BEGIN" README.md || { echo "readme_block: no $name block in README.md" >&2; exit 1; }
awk -v f="$file" -v b="<!-- $name:BEGIN" -v e="<!-- $name:END -->" '
  index($0, b) == 1 { while ((getline l < f) > 0) print l; skip = 1; next }
  index($0, e) == 1 { skip = 0; next }
  !skip { print }' README.md > README.md.tmp && mv README.md.tmp README.md
