#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in ./build-sanitize (scripts/configure-sanitize.sh;
# the tree the sanitized suite uses too), and runs each for
# TALLY_FUZZ_SECONDS (default 30) from a copy of its seed corpus
# (fuzz/corpus/NAME/), so the tree is never written. A crash stops with the
# input that caused it (crash-* in build-sanitize/fuzz-runs/NAME/) and a non-zero exit.
# A longer run of one target: TALLY_FUZZ_SECONDS=3600 scripts/fuzz.sh csv_parser
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${TALLY_FUZZ_SECONDS:-30}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(event_decoder rules_parser mapping_parser csv_parser journal_reader query_request)
scripts/configure-sanitize.sh
cmake --build build-sanitize -j "${TALLY_BUILD_JOBS:-2}" --target "${targets[@]/#/fuzz_}"
for target in "${targets[@]}"; do
  run="build-sanitize/fuzz-runs/$target"
  rm -rf "$run" && mkdir -p "$run/corpus"
  cp fuzz/corpus/"$target"/* "$run/corpus/" 2>/dev/null || true
  echo "fuzz $target for ${seconds}s"
  (cd "$run" && ../../fuzz/fuzz_"$target" -max_total_time="$seconds" -max_len=65536 \
    -print_final_stats=1 corpus > log.txt 2>&1) || { tail -40 "$run/log.txt"; exit 1; }
  grep -E "^stat::number_of_executed_units|^Done" "$run/log.txt" | tr '\n' ' '; echo
done
