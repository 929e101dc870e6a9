#include "daemon/startup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "scorer/rules.h"

#ifndef TALLY_VERSION
#define TALLY_VERSION "0.0.0"
#endif

namespace tally::daemon {
namespace {

std::shared_ptr<const scorer::RuleSet> load_initial_rules(const std::string& path) {
  if (path.empty()) throw ConfigError("no rules file: pass --rules FILE (or `rules` in --config)");
  Result<std::shared_ptr<const scorer::RuleSet>> result = scorer::load_rules_file(path, 1);
  if (!result) throw ConfigError("rules refused: " + result.status().to_string());
  return std::move(result).value();
}

void prepare_data_dir(DaemonOptions& options, DaemonParts& parts) {
  storage::Env* env = options.scorer.worker.env;
  if (const Status created = env->create_dir(options.data_dir); !created.is_ok()) {
    throw ConfigError("cannot create the data directory: " + created.to_string());
  }
  options.ingest.rejects.path =
      (std::filesystem::path(options.data_dir) / "rejected.ndjson").string();
  options.jetstream.rejects = options.ingest.rejects;
  options.scorer.worker.journal.enabled = options.journal;
  options.scorer.worker.journal.dir = options.data_dir;
  options.scorer.alert_log = options.journal;
  options.alert_log.fsync = options.scorer.worker.journal.fsync;
  options.alert_log.dir =
      options.journal ? (std::filesystem::path(options.data_dir) / "alerts").string() : "";
  options.alert_log.segment_bytes = std::min(
      options.alert_log.segment_bytes, std::max<std::uint64_t>(options.alert_log.max_bytes / 4, 1));
  if (options.journal) {
    Result<storage::DirLock> lock = storage::DirLock::acquire(env, options.data_dir);
    if (!lock) throw StateRefused(lock.status().to_string());
    parts.lock.emplace(std::move(lock).value());
  }
  Result<std::unique_ptr<storage::AlertLog>> log = storage::AlertLog::open(env, options.alert_log);
  if (!log) throw StateRefused("alert log: " + log.status().to_string());
  parts.alert_log = std::move(log).value();
}

zmq::socket_t bind_socket(zmq::context_t& context, zmq::socket_type type,
                          const std::string& endpoint, const char* what) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& error) {
    throw ConfigError(fmt::format("cannot bind {} socket to {}: {}", what, endpoint, error.what()));
  }
  return socket;
}

void open_sockets(DaemonOptions& options, DaemonParts& parts) {
  scorer::Engine& engine = *parts.engine;
  parts.ingest = std::make_unique<stream::IngestServer>(
      options.ingest, parts.context, engine.queues(),
      static_cast<std::uint32_t>(scorer::QueueRow::kIngest), engine.groups(), engine.types(),
      engine.event_clock(), engine.done_ticket_queues(), &engine.refusals());
  if (options.jetstream.enabled()) {
    // Events come from the log alone: a replica that also took events of
    // its own would hold scores the others do not.
    auto source = stream::JetStreamSource::open(
        options.jetstream, engine.queues(), static_cast<std::uint32_t>(scorer::QueueRow::kIngest),
        engine.groups(), engine.types(), engine.event_clock(), engine.done_ticket_queues(),
        &engine.refusals());
    if (!source) throw ConfigError("--nats: " + source.status().to_string());
    parts.jetstream = std::move(source).value();
  } else {
    try {
      parts.ingest->bind();
    } catch (const std::runtime_error& bind_error) {
      throw ConfigError(bind_error.what());
    }
  }
  parts.query = bind_socket(parts.context, zmq::socket_type::router, options.query_bind, "query");
  parts.query.set(zmq::sockopt::maxmsgsize, options.ingest.max_message_bytes);
  // Answers queued per client: one that asks without reading cannot make
  // tallyd hold its answers without bound (further ones are dropped, and
  // it times out as a client that got no answer).
  parts.query.set(zmq::sockopt::sndhwm, 64);
  parts.alerts = bind_socket(parts.context, zmq::socket_type::pub, options.alerts_bind, "alerts");
  // A PUB socket drops for a subscriber that falls behind its high-water
  // mark. Every alert is in the alert log first and carries its seq, so a
  // subscriber that falls behind reads what it lost there; the queue only
  // bounds what tallyd holds for each slow one (about 2 MB).
  parts.alerts.set(zmq::sockopt::sndhwm, 10000);
  parts.alert_publisher = std::make_unique<AlertPublisher>(engine, parts.alerts, *parts.alert_log,
                                                           parts.alert_counters);
  if (options.autoscale.enabled()) {
    parts.autoscaler = std::make_unique<scorer::Autoscaler>(options.autoscale);
  }
  options.metrics.version = TALLY_VERSION;
  try {
    parts.metrics = std::make_unique<monitoring::MetricsExporter>(
        options.metrics, engine, parts.ingest_counters(), parts.autoscaler.get(),
        &parts.alert_counters);
  } catch (const std::runtime_error& listen_error) {
    throw ConfigError(listen_error.what());
  }
}

// Replays the data directory into the started workers and says what was
// read. Returns whether it held nothing (a new node, or no journal).
bool recover(const DaemonOptions& options, scorer::Engine& engine, AlertPublisher& alerts) {
  if (!options.journal) {
    std::printf(
        "journal off: scores live in memory only; the alert log too (alert seq starts at 1)\n");
    return true;
  }
  Result<storage::RecoveryReport> recovered =
      engine.recover([&alerts](const storage::journal::Record& alert) { alerts.restore(alert); });
  if (!recovered) throw StateRefused(recovered.status().to_string());
  const storage::RecoveryReport& report = *recovered;
  for (const std::string& repaired : report.repaired) {
    spdlog::warn("recovery: torn journal tail (a crash mid-write; never acknowledged): {}",
                 repaired);
  }
  const std::string snapshot =
      report.snapshot_generation ? std::to_string(*report.snapshot_generation) : "none";
  std::printf(
      "recovered %llu records (snapshot %s: %llu, journals: %llu) from %llu files, %.1f MB, "
      "in %.2f s; journal fsync=%s\n",
      static_cast<unsigned long long>(report.snapshot_records + report.journal_records),
      snapshot.c_str(), static_cast<unsigned long long>(report.snapshot_records),
      static_cast<unsigned long long>(report.journal_records),
      static_cast<unsigned long long>(report.files), static_cast<double>(report.bytes) / 1e6,
      report.seconds, storage::to_string(options.scorer.worker.journal.fsync));
  const storage::AlertLog& log = alerts.log();
  if (log.next_seq() == log.oldest_seq()) {
    std::printf("alert log: no alerts kept; the next is seq %llu\n",
                static_cast<unsigned long long>(log.next_seq()));
  } else {
    std::printf("alert log: seq %llu to %llu kept (%.1f MB), %llu restored from the journals\n",
                static_cast<unsigned long long>(log.oldest_seq()),
                static_cast<unsigned long long>(log.next_seq() - 1),
                static_cast<double>(log.bytes()) / 1e6,
                static_cast<unsigned long long>(log.counters().appended));
  }
  return report.snapshot_records + report.journal_records == 0;
}

// Subscribes the JetStream source once the data directory is recovered: it
// resumes each consumer where it left off, or, with nothing on disk, reads
// its partitions again from the stream's first message.
void start_consuming(DaemonParts& parts, bool empty_disk) {
  if (!parts.jetstream) return;
  if (const Status started = parts.jetstream->start(empty_disk); !started.is_ok()) {
    throw ConfigError("--nats: " + started.to_string());
  }
  if (empty_disk) {
    std::printf("jetstream: nothing on disk; rebuilding partitions %s from the stream\n",
                parts.jetstream->partitions().to_string().c_str());
  }
}

}  // namespace

std::unique_ptr<DaemonParts> start_up(DaemonOptions& options) {
  // spdlog makes its logger on first use: make it here, before any other
  // thread logs (a thread sanitizer cannot see the library's own guard).
  (void)spdlog::default_logger();
  auto rules = load_initial_rules(options.rules_path);
  options.scorer.rules_path = options.rules_path;
  auto parts = std::make_unique<DaemonParts>();
  prepare_data_dir(options, *parts);
  parts->engine = std::make_unique<scorer::Engine>(options.scorer, std::move(rules));
  open_sockets(options, *parts);
  parts->engine->start();
  start_consuming(*parts, recover(options, *parts->engine, *parts->alert_publisher));
  return parts;
}

void print_ready_lines(DaemonParts& parts, const DaemonOptions& options) {
  const scorer::Engine& engine = *parts.engine;
  std::printf("tallyd %s: rules %s (%zu rules, version %u), %u workers, data in %s\n",
              TALLY_VERSION, options.rules_path.c_str(), engine.rules().rules().size(),
              engine.rules().version(), engine.workers(), options.data_dir.c_str());
  if (parts.jetstream) {
    std::printf("consuming %s\n", parts.jetstream->describe().c_str());
  } else {
    std::printf("listening ingest %s (PULL)\n", parts.ingest->ingest_endpoint().c_str());
    std::printf("listening submit %s (ROUTER, acknowledged batches)\n",
                parts.ingest->submit_endpoint().c_str());
  }
  std::printf("listening query %s (ROUTER)\n",
              parts.query.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening alerts %s (PUB)\n", parts.alerts.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening metrics %s\n", parts.metrics->url().c_str());
  std::printf("ready\n");
  std::fflush(stdout);
}

}  // namespace tally::daemon
