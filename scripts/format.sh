#!/usr/bin/env bash
# The project's C++ style (.clang-format, clang-format-14) on every source and header under src/, tests/, bench/
# and fuzz/. Without arguments: rewrite the files in place. --check: change nothing, list the files that are not
# formatted and exit 1 if there is one (CI runs this).
# Usage: scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format-14 >/dev/null || { echo "format: clang-format-14 missing (apt-get install clang-format-14)" >&2; exit 2; }
mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h' 'fuzz/*.cc' 'fuzz/*.h')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format-14 --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    printf '%s\n' "${bad[@]}"
    echo "format: ${#bad[@]} of ${#files[@]} files differ from .clang-format; run scripts/format.sh" >&2
    exit 1
  fi
  echo "format: clean (${#files[@]} files)"
else
  clang-format-14 --style=file -i "${files[@]}"
  echo "format: ${#files[@]} files formatted"
fi
