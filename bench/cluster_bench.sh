#!/usr/bin/env bash
# The cluster's figures: events through NATS JetStream into tallyd nodes.
#
#   bench/cluster_bench.sh [EVENTS] [BUILD_DIR]      (default 1000000, build)
#
# Starts three NATS servers (JetStream) in one NATS cluster on loopback, then
# for an R1 and an R3 stream (64 partitions each):
#   one-node       tally-bench --nats, batched (1,000 events a message), into
#                  one tallyd: from the first publish until the node counts
#                  every event
#   catch-up       a second tallyd started on an empty data directory after
#                  the stream holds those EVENTS: the time until it counts
#                  them all (it rebuilds from the stream)
#   two-replicas   batched again, until both nodes count every event
#   latency        10,000 events/s in batches of 10 (a tenth of EVENTS) into
#                  the two replicas: tallyd's receive-to-applied, and
#                  publish-to-applied from a probe (one event every 10 ms,
#                  publish call to its score seen on the first node, PubAck
#                  included). One sender waits for each batch's PubAck, so
#                  10,000/s is about what one sender thread sustains in
#                  batches of 10 on this box.
# Nodes run with 2 workers and the demerit-ny profile. On a 2-core machine the
# three NATS servers, the nodes and the sender share the same cores: quote
# these as what one small box does, not as a ceiling.
set -euo pipefail
events=${1:-1000000}
build=${2:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
bin=$build/apps
bench_bin=$build/bench
work=$(mktemp -d /tmp/tally-cluster-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$root"
source scripts/nats-cluster.sh
nats_cluster_start "$work" 3 "${TALLY_NATS_PORT:-14222}" "${TALLY_NATS_ROUTE_PORT:-16222}"
pids+=("${NATS_PIDS[@]}")
urls=$NATS_URLS
rules=config/rules/demerit-ny.toml
types=red_light,speeding_11_20,phone_use

# start_node NAME STREAM PORT_BASE: a node on every partition of STREAM;
# its query endpoint is tcp://127.0.0.1:PORT_BASE, metrics on PORT_BASE+2.
start_node() {
  local name=$1 stream=$2 base=$3
  "$bin/tallyd" --rules "$rules" --nats "$urls" --stream "$stream" --node "$name" \
    --workers 2 --data-dir "$work/$stream-$name" --query-bind "tcp://127.0.0.1:$base" \
    --alerts-bind "tcp://127.0.0.1:$((base + 1))" --metrics-listen "127.0.0.1:$((base + 2))" \
    >"$work/$stream-$name.log" 2>&1 &
  pids+=($!)
  wait_for_line "$work/$stream-$name.log" '^ready'
}
# processed QUERY_ENDPOINT: events the node has settled (accepted, duplicate, rejected).
processed() {
  "$bin/tally" --query "$1" --json stats | head -c 200 |
    grep -o '"\(accepted\|duplicates\|rejected_total\)":[0-9]*' |
    awk -F: '{ sum += $2 } END { print sum + 0 }'
}

for replicas in 1 3; do
  stream=BENCH_R$replicas
  for attempt in $(seq 30); do
    "$bin/tally" cluster init --nats "$urls" --stream "$stream" --replicas "$replicas" \
      --rules "$rules" >"$work/init.log" 2>&1 && break
    [[ $attempt == 30 ]] && { cat "$work/init.log" >&2; exit 1; }
    sleep 1
  done
  a=$((7200 + replicas * 20))
  b=$((a + 10))
  echo "== stream $stream: $replicas replica(s), 64 partitions, $events events a run"
  start_node a "$stream" "$a"
  echo -n "one-node      "
  "$bench_bin/tally-bench" --nats "$urls" --stream "$stream" --query "tcp://127.0.0.1:$a" \
    --metrics "127.0.0.1:$((a + 2))" --workload batched --events "$events" --subjects 1000000 \
    --types "$types" --threads 2

  in_stream=$(processed "tcp://127.0.0.1:$a")
  started=$(date +%s.%N)
  start_node b "$stream" "$b"
  for _ in $(seq 6000); do
    (($(processed "tcp://127.0.0.1:$b") >= in_stream)) && break
    sleep 0.05
  done
  if (($(processed "tcp://127.0.0.1:$b") < in_stream)); then
    echo "the new node did not catch up within 5 minutes" >&2
    exit 1
  fi
  awk -v n="$in_stream" -v from="$started" -v to="$(date +%s.%N)" 'BEGIN {
    printf "catch-up      %d events rebuilt from the stream by a new node in %.2f s (%.2f M events/s, start included)\n",
      n, to - from, n / (to - from) / 1e6 }'

  echo -n "two-replicas  "
  "$bench_bin/tally-bench" --nats "$urls" --stream "$stream" \
    --query "tcp://127.0.0.1:$a,tcp://127.0.0.1:$b" --metrics "127.0.0.1:$((a + 2))" \
    --workload batched --events "$events" --subjects 1000000 --types "$types" --threads 2
  echo -n "latency       "
  "$bench_bin/tally-bench" --nats "$urls" --stream "$stream" \
    --query "tcp://127.0.0.1:$a,tcp://127.0.0.1:$b" --metrics "127.0.0.1:$((a + 2))" \
    --workload latency --rate 10000 --events "$((events / 10))" --subjects 1000000 \
    --types "$types"
done
