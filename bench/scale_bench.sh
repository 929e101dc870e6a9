#!/usr/bin/env bash
# How cost grows with subjects and workers: the README's scale table.
#
#   bench/scale_bench.sh [BUILD_DIR] [SUBJECT_COUNTS] [WORKER_COUNTS]
#       (defaults: build, "10000 1000000 10000000", "1 2")
#
# For each worker count and subject count, a fresh tallyd (--no-journal,
# demerit-ny profile, tables sized with --expected-subjects) takes
# max(1 M, subjects) events over that many subjects (each event's subject
# drawn at random, so at a million and more most subjects hold one or two
# events, as idle ones do), batched 1,000 a message, from tally-bench on the
# same machine. Prints one line each: throughput, subjects held, the tables'
# own footprint per subject (`stats`), and the process's RSS per subject
# (which also holds the in-memory alert log, the queues and the libraries,
# so it only means something at millions).
set -euo pipefail
build=${1:-build}
subject_counts=${2:-"10000 1000000 10000000"}
worker_counts=${3:-"1 2"}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
work=$(mktemp -d /tmp/tally-scale.XXXXXX)
daemon=""
cleanup() {
  if [[ -n "$daemon" ]]; then kill -TERM "$daemon" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
for workers in $worker_counts; do
  for subjects in $subject_counts; do
    events=$((subjects > 1000000 ? subjects : 1000000))
    ingest=$(free_port); query=$(free_port); metrics=$(free_port)
    : > "$work/tallyd.log"
    "$build/apps/tallyd" --rules "$root/config/rules/demerit-ny.toml" --workers "$workers" \
      --no-journal --expected-subjects "$subjects" \
      --ingest-bind "tcp://127.0.0.1:$ingest" --submit-bind "tcp://127.0.0.1:$(free_port)" \
      --query-bind "tcp://127.0.0.1:$query" --alerts-bind "tcp://127.0.0.1:$(free_port)" \
      --metrics-listen "127.0.0.1:$metrics" > "$work/tallyd.log" 2>&1 &
    daemon=$!
    for _ in $(seq 200); do grep -q '^ready' "$work/tallyd.log" && break; sleep 0.05; done
    grep -q '^ready' "$work/tallyd.log" || { echo "tallyd did not start:"; cat "$work/tallyd.log"; exit 1; }
    result=$(timeout 600 "$build/bench/tally-bench" --workload batched --events "$events" \
      --subjects "$subjects" --ingest "tcp://127.0.0.1:$ingest" --query "tcp://127.0.0.1:$query" \
      --metrics "127.0.0.1:$metrics" 2>&1 | grep -o '[0-9.]* M events/s')
    stats=$(timeout 30 "$build/apps/tally" --query "tcp://127.0.0.1:$query" --json stats)
    rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status")
    kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""
    python3 - "$workers" "$subjects" "$events" "$result" "$rss_kb" "$stats" <<'PY'
import json, sys
workers, subjects, events, result, rss_kb, stats = sys.argv[1:]
per_worker = json.loads(stats)["workers"]
held = sum(w["subjects"] for w in per_worker)
table = sum(w["memory_bytes"] for w in per_worker)
print(f"workers {workers}  subjects {int(subjects):>10,}  events {int(events):>10,}  {result}"
      f"  held {held:>10,}  table {table / held:7.1f} B/subject"
      f"  rss {int(rss_kb) * 1024 / held:7.1f} B/subject")
PY
  done
done
