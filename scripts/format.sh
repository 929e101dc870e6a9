#!/usr/bin/env bash
# Formats every C++ file of the tree with clang-format (.clang-format at the
# root). --check: change nothing, exit 1 if a file would change (CI).
# --tidy: also run clang-tidy (.clang-tidy) over build/compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fix
tidy=no
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --tidy) tidy=yes ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "format.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "$mode" = check ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
if [ "$tidy" = yes ]; then
  [ -f build/compile_commands.json ] || { echo "format.sh: build first (scripts/build.sh)" >&2; exit 2; }
  mapfile -t sources < <(git ls-files '*.cc' | grep -v '^tests/\|^bench/')
  clang-tidy -p build --quiet "${sources[@]}"
fi
