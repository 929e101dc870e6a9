#!/usr/bin/env bash
# Configures and builds Tally (Release) in ./build. Two jobs: sized for 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${TALLY_BUILD_JOBS:-2}"
