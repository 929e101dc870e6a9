// tallyd: the running engine. Wires the ingest thread (stream/), the shard
// workers and query handling (scorer/), and metrics (monitoring/) together
// with the query and alert sockets. docs/architecture.md draws the whole.
//
// Its parts, each in its own file here, and the thread that runs each:
//   startup.h             start-up sequence: rules, data directory and lock,
//                         engine, sockets, recovery, report (control thread)
//   ingest_thread.h       the ingest thread (its own thread)
//   control_loop.h        query socket, reloads (control thread)
//   alert_publisher.h     alerts onto the PUB socket (control thread)
//   rules_watcher.h       --watch-rules (control thread)
//   snapshot_scheduler.h  periodic snapshots (its own thread)
//   shutdown.h            shutdown sequence (control thread)
// and elsewhere: the shard workers (scorer::Engine, one thread each), the
// metrics exporter's HTTP threads (monitoring::MetricsExporter), and, on a
// cluster node owning part of the partitions, the lister of the other
// partitions' owners (client::PartitionOwnersWatcher, its own thread).
//
// Options: daemon_options.h; the config file: config_file.h, keys in the
// README's "Configuration" section.
#pragma once

#include <atomic>

#include "core/signal_watcher.h"
#include "daemon/daemon_options.h"

namespace tally::daemon {

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);

  // Runs until `signals` says stop (SIGTERM, SIGINT), then shuts down
  // cleanly; a reload signal (SIGHUP) re-reads the rules. Returns the process
  // exit code. Start-up failures throw: rules refused or an address in use,
  // ConfigError; a damaged or locked data directory, StateRefused; each with
  // a message for the operator.
  int run(SignalWatcher& signals);

 private:
  DaemonOptions options_;
};

}  // namespace tally::daemon
