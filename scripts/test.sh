#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite: what CI
# runs (.ci/run). Four stages, each timed (the figures are for 2 cores):
#
#   main      Release build (GCC), every test                  ~15 min
#   address   AddressSanitizer + UndefinedBehaviorSanitizer     ~15 min
#             build (clang), every unit and integration test
#   fuzz      each libFuzzer target 30 s (same tree)            ~4 min
#   thread    ThreadSanitizer build of the queue, worker,       ~8 min
#             engine, storage and recovery tests
#
# TALLY_TEST_STAGES chooses (default: all four), e.g.
#   TALLY_TEST_STAGES=main scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
stages="${TALLY_TEST_STAGES:-main address fuzz thread}"
scripts/install-deps.sh --test

run_stage() {
  local name="$1"
  shift
  local start=$SECONDS
  echo "=== stage $name"
  "$@"
  echo "=== stage $name passed in $((SECONDS - start)) s"
}

main_stage() {
  scripts/build.sh
  (cd build && ctest --output-on-failure -j 2 --timeout 600)
}

for stage in $stages; do
  case "$stage" in
    main) run_stage main main_stage ;;
    address) run_stage address scripts/sanitize.sh address ;;
    fuzz) run_stage fuzz scripts/fuzz.sh ;;
    thread) run_stage thread scripts/sanitize.sh thread ;;
    *)
      echo "scripts/test.sh: unknown stage '$stage' (main, address, fuzz, thread)" >&2
      exit 2
      ;;
  esac
done
