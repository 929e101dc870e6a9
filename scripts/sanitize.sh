#!/usr/bin/env bash
# Builds the suite under sanitizers and runs it; what CI's second and third
# stages run (scripts/test.sh).
#
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer
#                                 (clang, with libFuzzer's coverage, so that
#                                 scripts/fuzz.sh reuses the tree) in
#                                 ./build-sanitize: every unit and integration
#                                 test; the daemons the tests start are built
#                                 the same way
#   scripts/sanitize.sh thread    ThreadSanitizer in ./build-tsan: the tests of
#                                 the queues, the workers, the engine (live
#                                 worker-count changes included), storage and
#                                 recovery, where threads share state
#
# A finding fails the test that made it (the sanitizers abort on the first).
# Under ThreadSanitizer, libzmq's internals are suppressed
# (scripts/tsan.supp says why); nothing of Tally's is.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-address}"
jobs="${TALLY_BUILD_JOBS:-2}"
case "$mode" in
  address)
    scripts/configure-sanitize.sh
    cmake --build build-sanitize -j "$jobs"
    cd build-sanitize
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
      ctest --output-on-failure -j 2 --timeout 900
    ;;
  thread)
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1" \
      -DCMAKE_CXX_COMPILER=clang++ -DTALLY_SANITIZE="thread" -DTALLY_WERROR=OFF \
      -DTALLY_BUILD_BENCH=OFF >/dev/null
    cmake --build build-tsan -j "$jobs" --target core_tests storage_tests scorer_tests
    # The suites of those three executables (the others are not built here).
    suites="$(grep -ho '^TEST\(_F\)\?([A-Za-z]*' tests/core/*.cc tests/storage/*.cc tests/scorer/*.cc |
      sed 's/.*(//' | sort -u | paste -sd '|')"
    cd build-tsan
    TSAN_OPTIONS="suppressions=$PWD/../scripts/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
      ctest --output-on-failure -j 2 --timeout 900 -R "^($suites)\\."
    ;;
  *)
    echo "usage: scripts/sanitize.sh address|thread" >&2
    exit 2
    ;;
esac
