// tallyd: parses flags, fills DaemonOptions, runs the daemon. Nothing else.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "core/nats_connection.h"
#include "core/partitions.h"
#include "daemon/config_file.h"
#include "daemon/daemon.h"
#include "storage/journal_writer.h"

namespace {

// SIGPIPE would kill the process when a peer goes away mid-write; a
// file-size limit (ulimit -f) would kill it on the journal's next write, which
// instead fails with EFBIG and is handled like a full disk.
void ignore_fatal_signals() {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread starts: every later thread inherits the blocked
  // signals, and this one thread takes them (core/signal_watcher.h).
  ignore_fatal_signals();
  tally::SignalWatcher signals({.stop = {SIGTERM, SIGINT}, .reload = {SIGHUP}});
  using tally::daemon::DaemonOptions;
  CLI::App app{
      "tallyd - scores people and vehicles from a stream of traffic and enforcement events.\n\n"
      "Events (NDJSON, one object a line) arrive on the ingest sockets; scores are asked on the\n"
      "query socket (use the `tally` client); tier changes are published on the alerts socket;\n"
      "Prometheus scrapes the metrics address. A flag overrides the config file, which\n"
      "overrides the default. SIGTERM/SIGINT: stop taking events, drain, exit 0. SIGHUP:\n"
      "reload the rules file.\n\n"
      "Durability: accepted events are journaled in --data-dir and an acknowledged batch is\n"
      "answered once its events are on disk (--fsync); snapshots bound the journal; at start\n"
      "tallyd recovers the newest snapshot and the journals after it (exit 3 if a state file\n"
      "is damaged, naming file and offset).\n\n"
      "Example:\n"
      "  tallyd --rules config/rules/demerit-ny.toml --workers 2 --data-dir /var/lib/tally\n",
      "tallyd"};
  DaemonOptions defaults;
  std::string rules, config, data_dir, ingest_bind, submit_bind, query_bind, alerts_bind,
      metrics_listen;
  std::uint32_t workers = 0;
  std::size_t max_line_bytes = 0;
  auto* rules_flag = app.add_option("--rules", rules,
                                    "Rules file (TOML): points, expiries, tiers. Required here "
                                    "or as `rules` in the config file");
  app.add_option("--config", config,
                 "Config file (TOML); keys are the flag names with "
                 "underscores, e.g. ingest_bind = \"tcp://...\"");
  auto* workers_flag =
      app.add_option("--workers", workers,
                     fmt::format("Shard workers at start, each owning a share of the subjects; "
                                 "`tally workers N` changes the count live (default: cores = {})",
                                 defaults.scorer.workers))
          ->check(CLI::Range(1, 4096));
  auto* ingest_flag = app.add_option(
      "--ingest-bind", ingest_bind,
      "Fire-and-forget ingest, ZeroMQ PULL (default " + defaults.ingest.ingest_bind + ")");
  auto* submit_flag = app.add_option(
      "--submit-bind", submit_bind,
      "Acknowledged batches, ZeroMQ ROUTER (default " + defaults.ingest.submit_bind + ")");
  auto* query_flag =
      app.add_option("--query-bind", query_bind,
                     "Query and admin API, ZeroMQ ROUTER (default " + defaults.query_bind + ")");
  auto* alerts_flag =
      app.add_option("--alerts-bind", alerts_bind,
                     "Tier-change alerts, ZeroMQ PUB (default " + defaults.alerts_bind + ")");
  auto* metrics_flag =
      app.add_option("--metrics-listen", metrics_listen,
                     "Prometheus /metrics HTTP address HOST:PORT; port 0 picks one (default " +
                         defaults.metrics.listen + ")");
  auto* data_flag =
      app.add_option("--data-dir", data_dir,
                     "Directory for the journals, snapshots and rejected.ndjson (dead letters); "
                     "created if missing; one daemon per directory (default " +
                         defaults.data_dir + ")");
  auto* line_flag =
      app.add_option(
             "--max-line-bytes", max_line_bytes,
             fmt::format("Longest accepted event line; longer ones are rejected `oversized` "
                         "(default {})",
                         defaults.ingest.decoder.max_line_bytes))
          ->check(CLI::PositiveNumber);
  std::uint64_t rejects_max_bytes = 0;
  unsigned rejects_keep = 0;
  auto* rejects_max_flag =
      app.add_option("--rejects-max-bytes", rejects_max_bytes,
                     fmt::format("Rotate the dead-letter file (rejected.ndjson) past this size "
                                 "(default {})",
                                 defaults.ingest.rejects.max_bytes))
          ->check(CLI::PositiveNumber);
  auto* rejects_keep_flag =
      app.add_option("--rejects-keep", rejects_keep,
                     fmt::format("Rotated dead-letter files kept, rejected.ndjson.1 .. .N "
                                 "(default {})",
                                 defaults.ingest.rejects.keep))
          ->check(CLI::Range(1, 1000));
  std::int64_t max_message_bytes = 0;
  auto* max_message_flag =
      app.add_option("--max-message-bytes", max_message_bytes,
                     fmt::format("Largest message taken on the ingest, submit and query sockets; "
                                 "a peer sending a larger one is disconnected (default {})",
                                 defaults.ingest.max_message_bytes))
          ->check(CLI::PositiveNumber);
  std::uint32_t max_events_per_subject = 0;
  auto* max_events_flag =
      app.add_option("--max-events-per-subject", max_events_per_subject,
                     fmt::format("Events (and revokes) one subject may hold; one more is rejected "
                                 "`subject_full` until expiry and retention make room (default {})",
                                 defaults.scorer.worker.table.max_events_per_subject))
          ->check(CLI::Range(1u, tally::scorer::SubjectTable::kMaxEventsPerSubject));
  std::size_t expected_subjects = 0;
  auto* expected_subjects_flag =
      app.add_option("--expected-subjects", expected_subjects,
                     "Subjects to size the tables for from the start, over all workers: without "
                     "it a table re-hashes its index each time it doubles, a pause of about 50 ms "
                     "a worker at a million subjects (default 0: grow as they come)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}));
  bool no_journal = false;
  std::string fsync_mode, snapshot_interval;
  std::int64_t fsync_interval_ms = 0;
  std::uint64_t snapshot_every = 0;
  auto* no_journal_flag = app.add_flag(
      "--no-journal", no_journal,
      "Keep scores in memory only: no journal, no snapshots, nothing recovered at start; an "
      "acknowledgement then means \"applied\", not \"durable\"");
  auto* fsync_flag =
      app.add_option("--fsync", fsync_mode,
                     "When the journal is synced to disk: batch (before each acknowledgement; "
                     "survives power loss), interval (every --fsync-interval-ms; survives a "
                     "crash of tallyd), none (the kernel decides) (default batch)")
          ->check(CLI::IsMember({"batch", "interval", "none"}));
  auto* fsync_interval_flag =
      app.add_option("--fsync-interval-ms", fsync_interval_ms,
                     fmt::format("Sync period for --fsync=interval, and for fire-and-forget "
                                 "events under batch (default {})",
                                 defaults.scorer.worker.journal.sync_interval_ms))
          ->check(CLI::PositiveNumber);
  auto* snapshot_interval_flag = app.add_option(
      "--snapshot-interval", snapshot_interval,
      "Snapshot at least this often while events arrive, e.g. 10m, 1h (default 10m)");
  auto* snapshot_every_flag =
      app.add_option("--snapshot-every", snapshot_every,
                     fmt::format("Snapshot after this many journaled records (default {})",
                                 defaults.snapshot_every_records))
          ->check(CLI::PositiveNumber);
  std::string auth_path;
  bool insecure = false;
  auto* auth_flag = app.add_option(
      "--auth", auth_path,
      "Authenticate every socket (ZeroMQ CURVE): only the clients FILE names get in, each "
      "limited to its roles (producer, appeals, reader, operator); re-read with the rules. "
      "README, \"Security\"");
  auto* insecure_flag = app.add_flag(
      "--insecure", insecure,
      "Without --auth, listen on non-loopback addresses anyway (anyone who can reach the "
      "ports can send, revoke, read and administer)");
  std::string metrics_auth;
  auto* metrics_auth_flag = app.add_option(
      "--metrics-auth", metrics_auth,
      "GET /metrics requires HTTP basic authentication with the USER:PASSWORD on FILE's first "
      "line (mode 600). Plain HTTP: over a network, add a TLS proxy");
  std::string alerts_retain;
  std::uint64_t alerts_max_bytes = 0;
  auto* alerts_retain_flag = app.add_option(
      "--alerts-retain", alerts_retain,
      "How long the alert log keeps alerts for the `alerts` op and `tally alerts`, e.g. 7d, "
      "12h; whole segments go once their newest alert is older (default 7d)");
  auto* alerts_max_bytes_flag =
      app.add_option("--alerts-max-bytes", alerts_max_bytes,
                     fmt::format("The alert log's size cap: past it the oldest alerts go "
                                 "first (default {})",
                                 defaults.alert_log.max_bytes))
          ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 50));
  bool watch_rules = false;
  auto* watch_rules_flag =
      app.add_flag("--watch-rules", watch_rules,
                   "Reload the rules when the file changes (checked once a second), like SIGHUP");
  std::string expiry_sweep;
  auto* expiry_sweep_flag = app.add_option(
      "--expiry-sweep", expiry_sweep,
      "How often workers look for tier changes caused by points expiring (no event arriving) "
      "and alert them: the longest such an alert is late, e.g. 10s, 1m; 0 turns it off "
      "(default 10s)");
  std::string autoscale, autoscale_high, autoscale_after;
  auto* autoscale_flag = app.add_option(
      "--autoscale", autoscale,
      "MIN:MAX: let tallyd change its own worker count within MIN..MAX: one more when the "
      "busiest worker stays over --autoscale-high with queues backing up for "
      "--autoscale-after, one fewer when all stay under 30 % for ten times that (default off)");
  auto* autoscale_high_flag = app.add_option(
      "--autoscale-high", autoscale_high,
      fmt::format("--autoscale: the utilisation that counts as saturated (default {})",
                  defaults.autoscale.high));
  auto* autoscale_after_flag = app.add_option(
      "--autoscale-after", autoscale_after,
      "--autoscale: how long saturation must last before a worker is added, e.g. 30s, 2m "
      "(default 30s)");
  std::string nats, stream, partitions, node;
  auto* nats_flag = app.add_option(
      "--nats", nats,
      "Take events from the replicated log: NATS servers, comma-separated "
      "(nats://HOST:PORT,...). The ingest sockets are then not opened; see docs/cluster.md");
  auto* stream_flag =
      app.add_option("--stream", stream,
                     "--nats: the stream (default " + std::string(tally::kDefaultStream) + ")");
  auto* partitions_flag = app.add_option(
      "--partitions", partitions,
      "--nats: the partitions this node owns, e.g. 0-31,40 (default all). Nodes with the same "
      "set are replicas; disjoint sets split the subjects");
  auto* node_flag = app.add_option(
      "--node", node,
      "--nats: this node's name, unique in the cluster; its consumers carry it (default: the "
      "host name)");
  CLI11_PARSE(app, argc, argv);

  DaemonOptions options;
  try {
    if (!config.empty()) tally::daemon::apply_config_file(config, options);
  } catch (const tally::daemon::ConfigError& error) {
    std::fprintf(stderr, "tallyd: %s\n", error.what());
    return 2;
  }
  if (rules_flag->count() > 0) options.rules_path = rules;
  if (workers_flag->count() > 0) options.scorer.workers = workers;
  if (ingest_flag->count() > 0) options.ingest.ingest_bind = ingest_bind;
  if (submit_flag->count() > 0) options.ingest.submit_bind = submit_bind;
  if (query_flag->count() > 0) options.query_bind = query_bind;
  if (alerts_flag->count() > 0) options.alerts_bind = alerts_bind;
  if (metrics_flag->count() > 0) options.metrics.listen = metrics_listen;
  if (data_flag->count() > 0) options.data_dir = data_dir;
  if (line_flag->count() > 0) options.ingest.decoder.max_line_bytes = max_line_bytes;
  if (no_journal_flag->count() > 0) options.journal = false;
  if (max_message_flag->count() > 0) options.ingest.max_message_bytes = max_message_bytes;
  if (rejects_max_flag->count() > 0) options.ingest.rejects.max_bytes = rejects_max_bytes;
  if (rejects_keep_flag->count() > 0) options.ingest.rejects.keep = rejects_keep;
  if (expected_subjects_flag->count() > 0) options.scorer.expected_subjects = expected_subjects;
  if (max_events_flag->count() > 0) {
    options.scorer.worker.table.max_events_per_subject = max_events_per_subject;
  }
  if (nats_flag->count() > 0) {
    auto urls = tally::nats::parse_urls(nats);
    if (!urls) {
      std::fprintf(stderr, "tallyd: --nats: %s\n", std::string(urls.status().message()).c_str());
      return 2;
    }
    options.jetstream.urls = std::move(urls).value();
  }
  if (stream_flag->count() > 0) options.jetstream.stream = stream;
  if (partitions_flag->count() > 0) options.jetstream.partitions = partitions;
  if (node_flag->count() > 0) options.jetstream.node = node;
  if (watch_rules_flag->count() > 0) options.watch_rules = true;
  if (fsync_flag->count() > 0) {
    (void)tally::storage::parse_fsync_mode(fsync_mode, options.scorer.worker.journal.fsync);
  }
  if (fsync_interval_flag->count() > 0) {
    options.scorer.worker.journal.sync_interval_ms = fsync_interval_ms;
  }
  if (snapshot_every_flag->count() > 0) options.snapshot_every_records = snapshot_every;
  if (expiry_sweep_flag->count() > 0) {
    const auto ms = tally::daemon::parse_expiry_sweep_ms(expiry_sweep);
    if (!ms) {
      std::fprintf(stderr, "tallyd: --expiry-sweep `%s`: %s\n", expiry_sweep.c_str(),
                   std::string(ms.status().message()).c_str());
      return 2;
    }
    options.scorer.worker.expiry_sweep_interval_ms = *ms;
  }
  if (autoscale_flag->count() > 0) {
    const auto range = tally::scorer::parse_autoscale_range(autoscale);
    if (!range) {
      std::fprintf(stderr, "tallyd: --autoscale: %s\n",
                   std::string(range.status().message()).c_str());
      return 2;
    }
    options.autoscale.min = range->min;
    options.autoscale.max = range->max;
  }
  if (autoscale_high_flag->count() > 0) {
    const auto high = tally::daemon::parse_autoscale_high(autoscale_high);
    if (!high) {
      std::fprintf(stderr, "tallyd: --autoscale-high `%s`: %s\n", autoscale_high.c_str(),
                   std::string(high.status().message()).c_str());
      return 2;
    }
    options.autoscale.high = *high;
  }
  if (autoscale_after_flag->count() > 0) {
    const auto ms = tally::daemon::parse_autoscale_after_ms(autoscale_after);
    if (!ms) {
      std::fprintf(stderr, "tallyd: --autoscale-after `%s`: %s\n", autoscale_after.c_str(),
                   std::string(ms.status().message()).c_str());
      return 2;
    }
    options.autoscale.after = std::chrono::milliseconds(*ms);
  }
  if (auth_flag->count() > 0) options.auth_path = auth_path;
  if (metrics_auth_flag->count() > 0) options.metrics_auth_path = metrics_auth;
  if (insecure_flag->count() > 0) options.insecure = true;
  if (alerts_max_bytes_flag->count() > 0) options.alert_log.max_bytes = alerts_max_bytes;
  if (alerts_retain_flag->count() > 0) {
    const auto ms = tally::daemon::parse_alerts_retain_ms(alerts_retain);
    if (!ms) {
      std::fprintf(stderr, "tallyd: --alerts-retain `%s`: %s\n", alerts_retain.c_str(),
                   std::string(ms.status().message()).c_str());
      return 2;
    }
    options.alert_log.retain_ms = *ms;
  }
  if (snapshot_interval_flag->count() > 0) {
    const auto ms = tally::daemon::parse_snapshot_interval_ms(snapshot_interval);
    if (!ms) {
      std::fprintf(stderr, "tallyd: --snapshot-interval `%s`: %s\n", snapshot_interval.c_str(),
                   std::string(ms.status().message()).c_str());
      return 2;
    }
    options.snapshot_interval_ms = *ms;
  }

  try {
    tally::daemon::Daemon daemon(std::move(options));
    return daemon.run(signals);
  } catch (const tally::daemon::ConfigError& error) {
    std::fprintf(stderr, "tallyd: %s\n", error.what());
    return 2;
  } catch (const tally::daemon::StateRefused& error) {
    std::fprintf(stderr, "tallyd: cannot recover the data directory: %s\n", error.what());
    return 3;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tallyd: fatal: %s\n", error.what());
    return 1;
  }
}
