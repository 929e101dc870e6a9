// tallyd: the running engine. Wires the ingest thread (stream/), the shard
// workers and query handling (scorer/), and metrics (monitoring/) together
// with the query and alert sockets, and runs the control loop.
//
// Threads: one ingest thread, N shard workers, the control thread (the
// caller of run(): query socket, alert publishing, reloads), and the metrics
// exporter's HTTP threads.
//
// Start: lock the data directory, recover its snapshot and journals into the
// workers, then open the sockets to traffic.
//
// Shutdown (stop flag, set on SIGTERM/SIGINT): stop taking events; answer
// acknowledged batches already taken; take a snapshot; let workers drain every
// queue and sync their journals; publish the last alerts; return 0.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

#include "monitoring/metrics_exporter.h"
#include "scorer/engine.h"
#include "stream/ingest_server.h"

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
  std::string query_bind = "tcp://127.0.0.1:7003";
  // Tier-change alerts (PUB; first frame the new tier's name). Default from the brief.
  std::string alerts_bind = "tcp://127.0.0.1:7004";
  stream::IngestOptions ingest;
  scorer::ScorerOptions scorer;
  monitoring::MetricsOptions metrics;
};

// A config file or flag that cannot be used. what() names file, line, reason.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a tallyd config file (TOML; keys in docs/operations.md) into
// `options`. Relative paths in it are taken from the file's own directory.
// Throws ConfigError.
void apply_config_file(const std::string& path, DaemonOptions& options);

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);

  // Runs until `stop` is set; a set `reload` flag re-reads the rules (and is
  // cleared). Returns the process exit code. Start-up failures (rules refused,
  // address in use) throw ConfigError, damaged state files StateError, with a
  // message for the operator.
  int run(const std::atomic<bool>& stop, std::atomic<bool>& reload);

 private:
  DaemonOptions options_;
};

}  // namespace tally::daemon
