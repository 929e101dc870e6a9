#!/usr/bin/env bash
# A cluster on one machine, end to end: three NATS servers with JetStream in
# one NATS cluster, an R3 stream, two tallyd replicas consuming it, the raw
# NYC camera extract sent by tally-camera through the log, one replica killed
# (kill -9) while the NDJSON sample is sent, restarted, and every score then
# compared on both replicas. Exit 0 only if they agree.
#
# Needs a build (scripts/build.sh) and nats-server (scripts/install-deps.sh).
# Ports: NATS clients on TALLY_NATS_PORT..+2 (default 4222), routes on
# TALLY_NATS_ROUTE_PORT..+2 (default 6222), the replicas' queries on 7103 and
# 7113, their alerts on 7104 and 7114, metrics on 9474 and 9484. Everything
# lives in a temporary directory, removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/apps
client_port=${TALLY_NATS_PORT:-4222}
route_port=${TALLY_NATS_ROUTE_PORT:-6222}
work=$(mktemp -d /tmp/tally-cluster.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

source scripts/nats-cluster.sh

echo "== three NATS servers (JetStream) in one cluster, under $work"
nats_cluster_start "$work" 3 "$client_port" "$route_port"
pids+=("${NATS_PIDS[@]}")
urls=$NATS_URLS

echo "== tally cluster init (64 partitions, R3); retried while JetStream elects its leader"
rules=config/rules/camera-nyc.toml
for attempt in $(seq 30); do
  if $bin/tally cluster init --nats "$urls" --replicas 3 --rules "$rules" >"$work/init.log" 2>&1; then
    break
  fi
  [[ $attempt == 30 ]] && { cat "$work/init.log"; exit 1; }
  sleep 1
done
cat "$work/init.log"

start_node() {
  local name=$1 query=$2 alerts=$3 metrics=$4
  $bin/tallyd --rules "$rules" --nats "$urls" --node "$name" --data-dir "$work/$name" \
    --query-bind "tcp://127.0.0.1:$query" --alerts-bind "tcp://127.0.0.1:$alerts" \
    --metrics-listen "127.0.0.1:$metrics" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  node_pid=$!
  wait_for_line "$work/$name.log" '^ready'
}
echo "== two replicas, a and b, each consuming all 64 partitions"
start_node a 7103 7104 9474
start_node b 7113 7114 9484
b_pid=$node_pid

echo "== tally-camera --nats: the raw NYC camera CSV extract, through the log"
$bin/tally-camera --preset nyc-camera --nats "$urls" --progress off \
  --rejects "$work/camera-rejects.ndjson" samples/nyc-camera-extract.csv

echo "== kill -9 replica b, then send the NDJSON sample through the log"
kill -9 "$b_pid"
$bin/tally send --nats "$urls" samples/nyc-camera-sample.ndjson
echo "== restart b: it recovers its disk and catches up from its consumers"
start_node b 7113 7114 9484

# Every subject's score on both replicas: the top list is every subject,
# ranked; the replicas agree once b has caught up (lag 0).
scores() { $bin/tally --query "tcp://127.0.0.1:$1" --json top 10000; }
for _ in $(seq 300); do
  [[ "$(scores 7103)" == "$(scores 7113)" ]] && break
  sleep 0.1
done
$bin/tally cluster status --nats "$urls"
subjects=$(scores 7103 | grep -o '"subject"' | wc -l)
if [[ "$(scores 7103)" != "$(scores 7113)" ]]; then
  echo "replicas differ:" >&2
  diff <(scores 7103 | tr '{' '\n') <(scores 7113 | tr '{' '\n') | head -20 >&2
  exit 1
fi
echo
echo "== both replicas hold the same $subjects scores; the top 5 on each:"
$bin/tally --query tcp://127.0.0.1:7103 top 5
$bin/tally --query tcp://127.0.0.1:7113 top 5
