# Sourced by the cluster demo and benchmark: starts NATS servers with
# JetStream on loopback, in one NATS cluster when there are several.
#
#   nats_cluster_start DIR COUNT CLIENT_PORT ROUTE_PORT
#
# Server i (0-based) listens for clients on CLIENT_PORT+i and for its peers
# on ROUTE_PORT+i, keeps its store in DIR/nats<i>, and logs to DIR/nats<i>/log.
# Sets NATS_URLS (comma-separated) and appends the servers' pids to
# NATS_PIDS; returns once every server said it is ready (30 s at most each).

# Waits (at most 30 s) until FILE has a line matching PATTERN.
wait_for_line() {
  local file=$1 pattern=$2
  for _ in $(seq 300); do grep -q "$pattern" "$file" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$pattern' in $file:" >&2
  cat "$file" >&2
  return 1
}

nats_cluster_start() {
  local dir=$1 count=$2 client_port=$3 route_port=$4 i j routes cluster
  NATS_URLS=""
  NATS_PIDS=(${NATS_PIDS[@]+"${NATS_PIDS[@]}"})
  for ((i = 0; i < count; i++)); do
    routes=""
    for ((j = 0; j < count; j++)); do
      ((j == i)) || routes+="    nats-route://127.0.0.1:$((route_port + j))"$'\n'
    done
    cluster=""
    ((count == 1)) || cluster="cluster {
  name: tally-local
  listen: 127.0.0.1:$((route_port + i))
  routes: [
$routes  ]
}"
    mkdir -p "$dir/nats$i"
    cat >"$dir/nats$i/nats.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((client_port + i))
jetstream { store_dir: "$dir/nats$i/store" }
$cluster
EOF
    nats-server -c "$dir/nats$i/nats.conf" >"$dir/nats$i/log" 2>&1 &
    NATS_PIDS+=($!)
    NATS_URLS+="${NATS_URLS:+,}nats://127.0.0.1:$((client_port + i))"
  done
  for ((i = 0; i < count; i++)); do wait_for_line "$dir/nats$i/log" "Server is ready"; done
}
