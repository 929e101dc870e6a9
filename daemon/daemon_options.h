// Everything tallyd can be told, in one struct: the flags (apps/tallyd.cc)
// and the config file (config_file.h) fill it; the daemon's parts read it and
// nothing else. Each field's meaning and default is stated here; the config
// file's keys are the flags' names with underscores (README, "Configuration").
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "api/endpoints.h"
#include "monitoring/metrics_exporter.h"
#include "scorer/autoscaler.h"
#include "scorer/engine.h"
#include "storage/alert_log.h"
#include "stream/ingest_server.h"
#include "stream/jetstream_source.h"

namespace tally::daemon {

struct DaemonOptions {
  // Rules file (TOML). Required.
  std::string rules_path;
  // Reload the rules when the file changes (looked at once a second), as
  // SIGHUP and `tally reload` do. Default off.
  bool watch_rules = false;
  // Where rejected.ndjson, the journals and the snapshots live. Created if
  // missing. Default "./data".
  std::string data_dir = "data";
  // Journal accepted events (and recover them at start). Off: scores live in
  // memory only and an acknowledgement means "applied". Default on.
  bool journal = true;
  // Snapshot when this much time has passed since the last one, or when this
  // many records were journaled since (whichever comes first); also on
  // `tally snapshot` and at a clean stop. Defaults 10 minutes, 5 million.
  std::int64_t snapshot_interval_ms = 10 * 60 * 1000;
  std::uint64_t snapshot_every_records = 5'000'000;
  // Query and admin API (ROUTER; clients REQ or DEALER). Default from the brief.
  std::string query_bind = api::kDefaultQueryEndpoint;
  // Tier-change alerts (PUB; first frame the new tier's name). Default from the brief.
  std::string alerts_bind = api::kDefaultAlertsEndpoint;
  // The alert log (storage/alert_log.h) in DATA/alerts, or in memory with
  // --no-journal: how long alerts are kept (whole segments are dropped once
  // their newest alert is older), and its size cap. Defaults 7 days, 1 GiB.
  // (segment_bytes follows from max_bytes: at most a quarter of it.)
  storage::AlertLogOptions alert_log;
  // --auth FILE (security/access.h): CURVE on every ZeroMQ socket, only the
  // clients the file names let in, each limited to its roles; re-read with
  // the rules (SIGHUP, `reload`). Empty: no authentication, and then tallyd
  // listens only on loopback addresses unless `insecure`.
  std::string auth_path;
  // --insecure: listen on other addresses without --auth. Default off.
  bool insecure = false;
  // --metrics-auth FILE: GET /metrics requires HTTP basic authentication with
  // the USER:PASSWORD on the file's first line (owner-only, like a key).
  // Empty: /metrics is open to whoever reaches it.
  std::string metrics_auth_path;
  stream::IngestOptions ingest;
  // --nats: events come from the replicated log (stream/jetstream_source.h)
  // instead of the ZeroMQ ingest sockets, which are then not opened. Off by
  // default (no URLs).
  stream::JetStreamOptions jetstream;
  scorer::ScorerOptions scorer;
  // --autoscale MIN:MAX (and --autoscale-high, --autoscale-after): tallyd
  // changes its own worker count within MIN..MAX (scorer/autoscaler.h). Off
  // by default.
  scorer::AutoscaleOptions autoscale;
  monitoring::MetricsOptions metrics;
};

// A config file, flag or start-up step that cannot be used (rules refused,
// address in use). what() says what, and where: file and line, or endpoint.
// tallyd exits 2 with it.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The data directory cannot be used: its state is damaged (what() names file
// and byte offset) or another daemon holds its lock (what() names the pid).
// tallyd exits 3 on it.
class StateRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tally::daemon
