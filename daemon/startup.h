// The start-up sequence: everything tallyd must have before it takes an
// event. Runs on the control thread (the caller of Daemon::run), in order:
//
//   1. the rules file, loaded and validated (refused: ConfigError naming
//      file, line and reason); with --auth the access list too, and without
//      it every address checked to be loopback (unless --insecure)
//   2. the data directory, created if missing, and its LOCK taken (held by
//      another daemon: StateRefused naming the holder's pid)
//   3. the engine, its workers not yet running
//   4. the sockets, bound: ingest and submit (the IngestServer), query,
//      alerts; and the metrics listener (in use: ConfigError naming it)
//   5. the workers started and the data directory's snapshot and journals
//      recovered into them (damaged: StateRefused naming file and
//      offset), reported in one line: "recovered N records (...)" or
//      "journal off: ..."; the alert log opened (DATA/alerts) and given the
//      journaled alerts it lacks, reported as "alert log: ..."
//
// With --nats, between 3 and 5: the rules of the log (rules through the log,
// stream/jetstream_source.h). The node starts with the rules it kept in
// DATA/cluster-rules.toml when it has them, else with --rules; --rules must
// be the log's current rules (<stream>.rules) or the ones kept (refused:
// ConfigError naming both versions and the fix); the source is given the
// installer that keeps and puts in force the rules it meets in the log.
//
// It ends with no event taken: the caller starts the ingest thread, then
// prints the ready lines (print_ready_lines), which scripts and tests wait for.
#pragma once

#include <memory>
#include <optional>
#include <zmq.hpp>

#include "client/partition_owners.h"
#include "daemon/alert_publisher.h"
#include "daemon/daemon_options.h"
#include "monitoring/metrics_exporter.h"
#include "scorer/autoscaler.h"
#include "scorer/engine.h"
#include "security/access.h"
#include "security/zap_handler.h"
#include "storage/state_dir.h"
#include "stream/ingest_server.h"

namespace tally::daemon {

// The running daemon's parts. Members are destroyed in reverse order, so
// every socket closes before the ZeroMQ context, and the ingest server and
// metrics exporter (which point into the engine) go before the engine.
struct DaemonParts {
  std::optional<storage::DirLock> lock;  // empty without a journal
  std::unique_ptr<scorer::Engine> engine;
  zmq::context_t context{1};
  // With --auth: the clients and roles in force, and the handler that lets
  // them in (before every socket: it must outlive them).
  std::unique_ptr<security::AccessRegistry> access;
  AuthCounters auth_counters;
  std::unique_ptr<security::ZapHandler> zap;
  std::unique_ptr<stream::IngestServer> ingest;
  std::unique_ptr<stream::JetStreamSource> jetstream;  // with --nats; then ingest is not bound
  // With --nats and part of the partitions: who owns the others, named in
  // `moved` answers (learnt from the stream's consumers, on its own thread).
  std::unique_ptr<client::PartitionOwnersWatcher> owners;
  zmq::socket_t query;                             // ROUTER, served by the control loop
  zmq::socket_t alerts;                            // PUB, written by the AlertPublisher
  std::unique_ptr<scorer::Autoscaler> autoscaler;  // with --autoscale
  std::unique_ptr<storage::AlertLog> alert_log;
  AlertCounters alert_counters;
  std::unique_ptr<AlertPublisher> alert_publisher;  // into alert_log, onto `alerts`
  std::unique_ptr<monitoring::MetricsExporter> metrics;

  // What the source of events counts: the JetStream source's with --nats.
  const IngestCounters& ingest_counters() const {
    return jetstream ? jetstream->counters() : ingest->counters();
  }
};

// Steps 1 to 5 above. Completes `options` with what follows from them (the
// dead-letter path in the data directory, the journal's directory, the rules
// path the engine reloads from). Throws ConfigError or StateRefused.
std::unique_ptr<DaemonParts> start_up(DaemonOptions& options);

// The lines that say tallyd is up, on stdout, flushed:
//   tallyd VERSION: rules FILE (N rules, version V), W workers, data in DIR
//   listening ingest ENDPOINT (PULL)
//   listening submit ENDPOINT (ROUTER, acknowledged batches)
//     (with --nats, instead of these two:
//      consuming stream S partitions SET of P as node N, from URL
//      rules through the log: version V in force; `reload` refused ...)
//   listening query ENDPOINT (ROUTER)
//   listening alerts ENDPOINT (PUB)
//   listening metrics URL
//   ready
// Endpoints are the ones bound (a port given as * or 0 resolved). Their
// words are a contract: scripts and tests read the endpoints from them and
// wait for "ready".
void print_ready_lines(DaemonParts& parts, const DaemonOptions& options);

}  // namespace tally::daemon
