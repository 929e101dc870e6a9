#!/usr/bin/env bash
# The main job on the bundled default: installs what is missing, builds, starts
# tallyd with a shipped rule profile, feeds it the shipped sample of real NYC
# camera violations (NDJSON, then a raw CSV extract of the same export through
# tally-camera: its summonses are already in, so tallyd counts them as
# duplicates), then shows the top subjects, one explanation, and where the
# metrics are. Endpoints are tallyd's and tally's defaults (the brief's, written
# once in api/endpoints.h) unless TALLY_DEMO_* say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

rules=config/rules/camera-nyc.toml
sample=samples/nyc-camera-sample.ndjson
data=$(mktemp -d /tmp/tally-demo.XXXXXX)
# Flags only for what TALLY_DEMO_* set: tallyd's binds, and tally's --query/--submit.
binds=(${TALLY_DEMO_QUERY:+--query-bind "$TALLY_DEMO_QUERY"} ${TALLY_DEMO_SUBMIT:+--submit-bind "$TALLY_DEMO_SUBMIT"}
  ${TALLY_DEMO_INGEST:+--ingest-bind "$TALLY_DEMO_INGEST"} ${TALLY_DEMO_ALERTS:+--alerts-bind "$TALLY_DEMO_ALERTS"}
  ${TALLY_DEMO_METRICS:+--metrics-listen "$TALLY_DEMO_METRICS"})
query=(${TALLY_DEMO_QUERY:+--query "$TALLY_DEMO_QUERY"})
submit=(${TALLY_DEMO_SUBMIT:+--submit "$TALLY_DEMO_SUBMIT"})
log="$data/tallyd.log"

build/apps/tallyd --rules "$rules" --data-dir "$data" "${binds[@]}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^ready' "$log" && break; sleep 0.1; done
grep -q '^ready' "$log" || { cat "$log"; exit 1; }
cat "$log"

echo
echo "== tally send $sample (acknowledged)"
build/apps/tally "${submit[@]}" send --ack "$sample" || true
echo
echo "== tally-camera --preset nyc-camera samples/nyc-camera-extract.csv (the raw CSV export, through the adapter)"
echo "   (the same summonses as the NDJSON sample: tallyd answers them as duplicates, exactly once)"
build/apps/tally-camera --preset nyc-camera "${submit[@]}" --progress off \
  --rejects "$data/camera-rejects.ndjson" samples/nyc-camera-extract.csv || true
echo
echo "== tally top 10"
build/apps/tally "${query[@]}" top 10
top=$(build/apps/tally "${query[@]}" --json top 1 | sed -n 's/.*"subject":"\([^"]*\)".*/\1/p')
echo
echo "== tally explain $top"
build/apps/tally "${query[@]}" explain "$top"
echo
echo "== tally history $top"
build/apps/tally "${query[@]}" history "$top"
echo
echo "== tally stats"
build/apps/tally "${query[@]}" stats
echo
echo "Metrics: $(grep '^listening metrics' "$log" | cut -d' ' -f3)   (curl it while tallyd runs)"
echo "Dead letters (the sample ends with 3 deliberately bad lines): $data/rejected.ndjson"
kill -TERM $pid
wait $pid
echo "tallyd stopped cleanly (snapshot written)."

echo
echo "== restart on the same data directory: the scores come back from the snapshot"
build/apps/tallyd --rules "$rules" --data-dir "$data" "${binds[@]}" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^ready' "$log" && break; sleep 0.1; done
grep '^recovered' "$log" || { cat "$log"; exit 1; }
build/apps/tally "${query[@]}" top 3
kill -TERM $pid
wait $pid
trap - EXIT
echo "tallyd stopped cleanly."
