// tallyd: parses flags, fills DaemonOptions, runs the daemon. Nothing else.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <optional>

#include "daemon/daemon.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop_signal(int) { g_stop.store(true); }
void on_reload_signal(int) { g_reload.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  action.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  using tally::daemon::DaemonOptions;
  CLI::App app{
      "tallyd - scores people and vehicles from a stream of traffic and enforcement events.\n\n"
      "Events (NDJSON, one object a line) arrive on the ingest sockets; scores are asked on the\n"
      "query socket (use the `tally` client); tier changes are published on the alerts socket;\n"
      "Prometheus scrapes the metrics address. A flag overrides the config file, which\n"
      "overrides the default. SIGTERM/SIGINT: stop taking events, drain, exit 0. SIGHUP:\n"
      "reload the rules file.\n\n"
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
      app.add_option(
             "--workers", workers,
             fmt::format("Shard workers, each owning a share of the subjects (default: cores = {})",
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
                     "Directory for rejected.ndjson (dead letters); created if missing (default " +
                         defaults.data_dir + ")");
  auto* line_flag =
      app.add_option(
             "--max-line-bytes", max_line_bytes,
             fmt::format("Longest accepted event line; longer ones are rejected `oversized` "
                         "(default {})",
                         defaults.ingest.decoder.max_line_bytes))
          ->check(CLI::PositiveNumber);
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

  install_signal_handlers();
  try {
    tally::daemon::Daemon daemon(std::move(options));
    return daemon.run(g_stop, g_reload);
  } catch (const tally::daemon::ConfigError& error) {
    std::fprintf(stderr, "tallyd: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tallyd: fatal: %s\n", error.what());
    return 1;
  }
}
