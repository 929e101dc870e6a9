#!/usr/bin/env bash
# Configures ./build-sanitize: clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, libFuzzer's coverage in every library. One tree
# for the sanitized suite (scripts/sanitize.sh address) and the fuzzers
# (scripts/fuzz.sh), so CI builds it once.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DCMAKE_CXX_COMPILER=clang++ -DTALLY_SANITIZE="address;undefined" -DTALLY_FUZZ=ON \
  -DTALLY_WERROR=OFF -DTALLY_BUILD_BENCH=OFF "$@" >/dev/null
