#!/usr/bin/env bash
# Installs what Tally needs from Debian's packages (Debian 12), only if missing.
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev libboost-dev libsimdjson-dev prometheus-cpp-dev
  libabsl-dev libtomlplusplus-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libsodium-dev tzdata
  prometheus  # the server and promtool: the dashboard and alert-rule tests start their own
  nats-server libnats-dev
)
# --test: what the sanitizer and fuzzing stages of scripts/test.sh add: clang,
# its sanitizer and libFuzzer runtimes, and llvm-symbolizer for readable reports.
if [ "${1:-}" = "--test" ]; then
  packages+=(clang libclang-rt-14-dev llvm)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi
