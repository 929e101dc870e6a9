#!/usr/bin/env bash
# Adapter throughput, CSV to acknowledged: named workloads, one line each.
#
#   bench/adapter_bench.sh [RECORDS] [BUILD_DIR]      (default 1000000, build)
#
# Makes a NYC-shaped CSV of RECORDS rows (the rows of samples/nyc-camera-extract.csv
# again and again, each with its own summons number, over 50,000 plates per
# source row), then runs:
#   camera-map        tally-camera --dry-run > /dev/null: read + parse + map only
#   camera-to-ack     tally-camera into a fresh tallyd: CSV to every batch acknowledged
#   send-ndjson-ack   tally send --ack of the same events as NDJSON into a fresh
#                     tallyd: the daemon's acknowledged ingest, without mapping
# If camera-to-ack is close to send-ndjson-ack, the daemon (not the adapter) is
# the limit. tallyd runs with 2 workers and the camera-nyc profile; on a
# 2-core machine every process shares the same cores.
set -euo pipefail
records=${1:-1000000}
build=${2:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
work=$(mktemp -d /tmp/tally-adapter-bench.XXXXXX)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

awk -v n="$records" -F, 'NR == 1 { print; next }
  $6 != "" && $7 != "" { rows[++k] = $0 }
  END {
    for (i = 0; i < n; i++) {
      split(rows[i % k + 1], f, ",")
      f[1] = f[1] "X" int(i / k) % 50000; f[4] = 7000000000 + i
      line = f[1]; for (j = 2; j <= length(f); j++) line = line "," f[j]
      print line
    }
  }' "$root/samples/nyc-camera-extract.csv" > "$work/big.csv"

# Starts tallyd on free ports; sets daemon_pid and submit.
start_daemon() {
  rm -rf "$work/data"
  "$build/apps/tallyd" --rules "$root/config/rules/camera-nyc.toml" --workers 2 \
    --data-dir "$work/data" --ingest-bind 'tcp://127.0.0.1:*' --submit-bind 'tcp://127.0.0.1:*' \
    --query-bind 'tcp://127.0.0.1:*' --alerts-bind 'tcp://127.0.0.1:*' \
    --metrics-listen 127.0.0.1:0 > "$work/tallyd.out" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q '^ready' "$work/tallyd.out" && break; sleep 0.1; done
  submit=$(awk '$1 == "listening" && $2 == "submit" { print $3 }' "$work/tallyd.out")
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""; }

now() { date +%s.%N; }
report() {  # name records start end
  awk -v name="$1" -v n="$2" -v t0="$3" -v t1="$4" \
    'BEGIN { s = t1 - t0; printf "%-16s %9d records %7.2f s %10.0f records/s\n", name, n, s, n / s }'
}

"$build/apps/tally-camera" --preset nyc-camera --dry-run --progress off "$work/big.csv" \
  > "$work/events.ndjson" 2> "$work/map.log"  # for send-ndjson-ack; not timed
t0=$(now)
"$build/apps/tally-camera" --preset nyc-camera --dry-run --progress off "$work/big.csv" \
  > /dev/null 2> "$work/map.log"
t1=$(now)
report camera-map "$records" "$t0" "$t1"

start_daemon
t0=$(now)
if ! "$build/apps/tally-camera" --preset nyc-camera --submit "$submit" --progress off \
  --rejects "$work/rejects.ndjson" "$work/big.csv" > "$work/camera.log" 2>&1; then
  cat "$work/camera.log" >&2
  exit 1
fi
t1=$(now)
report camera-to-ack "$records" "$t0" "$t1"
stop_daemon

start_daemon
t0=$(now)
if ! "$build/apps/tally" --submit "$submit" send --ack "$work/events.ndjson" > "$work/send.log" 2>&1; then
  cat "$work/send.log" >&2
  exit 1
fi
t1=$(now)
report send-ndjson-ack "$records" "$t0" "$t1"
stop_daemon
