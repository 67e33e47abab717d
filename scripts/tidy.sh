#!/usr/bin/env bash
# Runs clang-tidy (Debian clang-tidy-14, checks in .clang-tidy) on the project's sources, or on the files / folders
# given, with the compile commands of a configured build folder. Exit status 1 if it reports anything.
# Usage: scripts/tidy.sh [-p build-dir] [path ...]     e.g. scripts/tidy.sh src/kernels src/core
# Cost: ~1–5 s per file on one core (a few minutes for kernels/ + core/, ~30 min for the whole tree on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ "${1:-}" = "-p" ]; then build="$2"; shift 2; fi
[ -f "$build/compile_commands.json" ] || { echo "tidy: $build/compile_commands.json missing (configure with cmake first)" >&2; exit 2; }
command -v run-clang-tidy-14 >/dev/null || { echo "tidy: run-clang-tidy-14 missing (apt-get install clang-tidy-14)" >&2; exit 2; }
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(src)
files=()
for p in "${paths[@]}"; do
  if [ -d "$p" ]; then while IFS= read -r f; do files+=("$PWD/$f"); done < <(find "$p" -name '*.cc' | sort)
  else files+=("$PWD/$p"); fi
done
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# run-clang-tidy takes regexes: anchor each file name
regex=()
for f in "${files[@]}"; do regex+=("^$(printf '%s' "$f" | sed 's/[.[\*^$()+?{|]/\\&/g')\$"); done
run-clang-tidy-14 -p "$build" -quiet -j "$(nproc)" "${regex[@]}" >"$log" 2>/dev/null || true
if grep -E "(warning|error):" "$log"; then
  echo "tidy: $(grep -cE '(warning|error):' "$log") finding(s) in ${#files[@]} file(s)" >&2
  exit 1
fi
echo "tidy: clean (${#files[@]} files)"
