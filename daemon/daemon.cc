#include "daemon/daemon.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "scorer/query_handler.h"
#include "scorer/state_dir.h"
#include "stream/event_time.h"
#include "stream/json_text.h"

#ifndef TALLY_VERSION
#define TALLY_VERSION "0.0.0"
#endif

namespace tally::daemon {
namespace {

std::shared_ptr<const scorer::RuleSet> load_initial_rules(const std::string& path) {
  if (path.empty()) throw ConfigError("no rules file: pass --rules FILE (or `rules` in --config)");
  scorer::RulesResult result = scorer::load_rules_file(path, 1);
  if (const auto* error = std::get_if<scorer::RulesError>(&result)) {
    throw ConfigError("rules refused: " + error->to_string());
  }
  return std::get<std::shared_ptr<const scorer::RuleSet>>(std::move(result));
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

std::string alert_json(const scorer::Alert& alert) {
  std::string body = "{\"subject\":";
  stream::append_json_string(body, alert.subject.view());
  body += ",\"from\":";
  stream::append_json_string(body, alert.from);
  body += ",\"to\":";
  stream::append_json_string(body, alert.to);
  body += fmt::format(",\"score\":{},\"event\":", alert.score);
  stream::append_json_string(body, alert.event_id.view());
  body += ",\"time\":";
  stream::append_json_string(body, stream::format_rfc3339_ms(alert.time_ms));
  body += alert.by_expiry ? ",\"cause\":\"expiry\"}" : ",\"cause\":\"event\"}";
  return body;
}

// What --watch-rules compares: a change of either means the file changed.
struct RulesFileStamp {
  std::filesystem::file_time_type modified{};
  std::uintmax_t size = 0;
  bool operator!=(const RulesFileStamp& other) const {
    return modified != other.modified || size != other.size;
  }
};

RulesFileStamp stamp_of(const std::string& path) {
  std::error_code error;
  RulesFileStamp stamp;
  stamp.modified = std::filesystem::last_write_time(path, error);
  stamp.size = std::filesystem::file_size(path, error);
  return stamp;
}

void log_snapshot(const scorer::SnapshotReport& report, const char* why) {
  if (report.ok) {
    spdlog::info(
        "snapshot {} ({}): {} records, {:.1f} MB in {:.2f} s; longest worker pause "
        "{:.3f} s",
        report.generation, why, report.records, static_cast<double>(report.bytes) / 1e6,
        report.seconds, report.longest_pause_seconds);
  } else {
    spdlog::error("snapshot {} ({}) failed: {}; the journals still hold everything",
                  report.generation, why, report.error);
  }
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {}

int Daemon::run(const std::atomic<bool>& stop, std::atomic<bool>& reload) {
  auto rules = load_initial_rules(options_.rules_path);
  std::error_code error;
  std::filesystem::create_directories(options_.data_dir, error);
  if (error) {
    throw ConfigError(
        fmt::format("cannot create data directory {}: {}", options_.data_dir, error.message()));
  }
  options_.ingest.rejected_path =
      (std::filesystem::path(options_.data_dir) / "rejected.ndjson").string();
  options_.scorer.rules_path = options_.rules_path;
  std::optional<scorer::DirLock> lock;
  if (options_.journal) {
    lock.emplace(options_.data_dir);
    options_.scorer.worker.journal.dir = options_.data_dir;
  } else {
    options_.scorer.worker.journal.dir.clear();
  }

  scorer::Engine engine(options_.scorer, rules);
  zmq::context_t context(1);
  stream::IngestServer ingest(options_.ingest, context, engine.queues(),
                              static_cast<std::uint32_t>(scorer::Producer::kIngest),
                              engine.groups(), engine.types(), engine.event_clock(),
                              engine.done_ticket_queues());
  try {
    ingest.bind();
  } catch (const std::runtime_error& bind_error) {
    throw ConfigError(bind_error.what());
  }
  zmq::socket_t query =
      bind_socket(context, zmq::socket_type::router, options_.query_bind, "query");
  zmq::socket_t alerts =
      bind_socket(context, zmq::socket_type::pub, options_.alerts_bind, "alerts");
  // A PUB socket drops for a subscriber that falls behind its high-water
  // mark; a deep queue makes that a slow consumer's problem only under
  // sustained overload.
  alerts.set(zmq::sockopt::sndhwm, 100000);

  options_.metrics.version = TALLY_VERSION;
  std::unique_ptr<monitoring::MetricsExporter> metrics;
  try {
    metrics =
        std::make_unique<monitoring::MetricsExporter>(options_.metrics, engine, ingest.counters());
  } catch (const std::runtime_error& listen_error) {
    throw ConfigError(listen_error.what());
  }

  engine.start();
  if (options_.journal) {
    const scorer::RecoveryReport report = engine.recover();
    for (const std::string& repaired : report.repaired) {
      spdlog::warn("recovery: torn journal tail (a crash mid-write; never acknowledged): {}",
                   repaired);
    }
    std::printf(
        "recovered %llu records (snapshot %s: %llu, journals: %llu) from %llu files, %.1f MB, "
        "in %.2f s; journal fsync=%s\n",
        static_cast<unsigned long long>(report.snapshot_records + report.journal_records),
        report.snapshot_generation ? std::to_string(*report.snapshot_generation).c_str() : "none",
        static_cast<unsigned long long>(report.snapshot_records),
        static_cast<unsigned long long>(report.journal_records),
        static_cast<unsigned long long>(report.files), static_cast<double>(report.bytes) / 1e6,
        report.seconds, scorer::to_string(options_.scorer.worker.journal.fsync));
  } else {
    std::printf("journal off: scores live in memory only\n");
  }
  std::atomic<bool> stop_ingest{false};
  std::thread ingest_thread([&] { ingest.run(stop_ingest); });

  auto publish_alerts = [&] {
    engine.drain_alerts([&](const scorer::Alert& alert) {
      const std::string body = alert_json(alert);
      std::array<zmq::const_buffer, 2> frames = {zmq::buffer(alert.to), zmq::buffer(body)};
      (void)zmq::send_multipart(alerts, frames, zmq::send_flags::dontwait);
    });
  };
  scorer::QueryHandler handler(engine, &ingest.counters(), publish_alerts);

  std::printf("tallyd %s: rules %s (%zu rules, version %u), %u workers, data in %s\n",
              TALLY_VERSION, options_.rules_path.c_str(), engine.rules().rules().size(),
              engine.rules().version(), engine.workers(), options_.data_dir.c_str());
  std::printf("listening ingest %s (PULL)\n", ingest.ingest_endpoint().c_str());
  std::printf("listening submit %s (ROUTER, acknowledged batches)\n",
              ingest.submit_endpoint().c_str());
  std::printf("listening query %s (ROUTER)\n", query.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening alerts %s (PUB)\n", alerts.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening metrics %s\n", metrics->url().c_str());
  std::printf("ready\n");
  std::fflush(stdout);

  // Periodic snapshots run on their own thread, so that queries go on while
  // the workers write (each worker pauses only for its own part).
  std::atomic<bool> stop_snapshots{false};
  std::thread snapshot_thread;
  if (options_.journal) {
    snapshot_thread = std::thread([&] {
      auto last = std::chrono::steady_clock::now();
      std::uint64_t records_at_last = engine.journal_records();
      std::uint64_t taken_at_last = engine.snapshots_taken();
      while (!stop_snapshots.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (engine.snapshots_taken() != taken_at_last) {  // one was asked for
          taken_at_last = engine.snapshots_taken();
          last = std::chrono::steady_clock::now();
          records_at_last = engine.journal_records();
          continue;
        }
        const auto elapsed = std::chrono::steady_clock::now() - last;
        const std::uint64_t records = engine.journal_records() - records_at_last;
        if (records == 0 || (elapsed < std::chrono::milliseconds(options_.snapshot_interval_ms) &&
                             records < options_.snapshot_every_records)) {
          continue;
        }
        log_snapshot(engine.snapshot(), "periodic");
        taken_at_last = engine.snapshots_taken();
        last = std::chrono::steady_clock::now();
        records_at_last = engine.journal_records();
      }
    });
  }

  zmq::pollitem_t items[] = {{query.handle(), 0, ZMQ_POLLIN, 0}};
  std::vector<zmq::message_t> frames;
  // --watch-rules: the file's modification time and size, looked at once a
  // second; a change reloads as SIGHUP would (an editor's half-written file
  // is refused and the next change retried).
  RulesFileStamp watched = stamp_of(options_.rules_path);
  auto next_look = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    publish_alerts();
    if (reload.exchange(false)) {
      const std::string answer = handler.handle(R"({"op":"reload"})");
      spdlog::info("reload (signal): {}", answer);
    }
    if (options_.watch_rules && std::chrono::steady_clock::now() >= next_look) {
      next_look = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      const RulesFileStamp now = stamp_of(options_.rules_path);
      if (now != watched) {
        watched = now;
        const std::string answer = handler.handle(R"({"op":"reload"})");
        spdlog::info("reload (the rules file changed): {}", answer);
      }
    }
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(5));
    } catch (const zmq::error_t& poll_error) {
      if (poll_error.num() == EINTR) continue;
      throw;
    }
    for (int round = 0; round < 256 && (items[0].revents & ZMQ_POLLIN); ++round) {
      frames.clear();
      if (!zmq::recv_multipart(query, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        break;
      }
      if (frames.size() < 2) continue;  // no routing id: cannot answer anyway
      // Echo the envelope (routing id, and REQ's empty delimiter) and answer
      // the last frame.
      const std::string answer = handler.handle(frames.back().to_string_view());
      frames.back() = zmq::message_t(answer.data(), answer.size());
      (void)zmq::send_multipart(query, frames, zmq::send_flags::dontwait);
    }
  }

  spdlog::info("stopping: no new events; draining queues");
  // Each blocking step of the shutdown runs on its own thread while this one
  // keeps publishing alerts, so that no worker waits on a full alert queue.
  const auto pump_alerts_until = [&](const std::function<void()>& step) {
    std::atomic<bool> done{false};
    std::thread runner([&] {
      step();
      done.store(true);
    });
    while (!done.load()) {
      publish_alerts();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    runner.join();
  };
  stop_ingest.store(true);
  pump_alerts_until([&] { ingest_thread.join(); });
  metrics.reset();
  if (snapshot_thread.joinable()) {
    stop_snapshots.store(true);
    pump_alerts_until([&] { snapshot_thread.join(); });
    pump_alerts_until([&] { log_snapshot(engine.snapshot(), "at stop"); });
  }
  pump_alerts_until([&] { engine.stop(); });
  publish_alerts();
  spdlog::info("stopped");
  return 0;
}

}  // namespace tally::daemon
