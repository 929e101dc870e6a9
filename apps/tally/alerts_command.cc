#include "apps/tally/alerts_command.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "api/endpoints.h"
#include "client/alert_follower.h"
#include "core/signal_watcher.h"

namespace tally::cli {
namespace {

constexpr auto kStateSaveEvery = std::chrono::seconds(1);
constexpr auto kWaitTurn = std::chrono::milliseconds(200);

// The seq saved in a --state file; nullopt when there is no file yet.
Result<std::optional<std::uint64_t>> read_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::uint64_t>();
    return Status::io_error(fmt::format("cannot read --state {}", path), errno);
  }
  std::string text;
  std::getline(in, text, '\0');
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::uint64_t seq = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (text.empty() || text.size() > 20 || error != std::errc() ||
      end != text.data() + text.size()) {
    return Status::invalid_argument(
        fmt::format("--state {}: expected the last seq printed (a number), found `{}`", path,
                    text.substr(0, 40)));
  }
  return std::optional<std::uint64_t>(seq);
}

// Written whole or not at all: a new file renamed over the old.
Status write_state(const std::string& path, std::uint64_t last_seq) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << last_seq << '\n';
    out.flush();
    if (!out) return Status::io_error(fmt::format("cannot write {}", temporary), errno);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return Status::io_error(fmt::format("cannot rename {} to {}", temporary, path), errno);
  }
  return Status::ok();
}

}  // namespace

AlertsCommand::AlertsCommand(CLI::App& app) : alerts_endpoint_(api::kDefaultAlertsEndpoint) {
  command_ = app.add_subcommand(
      "alerts", "Tier-change alerts, one JSON line each, in seq order, exactly once");
  command_->add_option("--since", since_,
                       "The first seq to print (default: the oldest the log keeps; with "
                       "--follow, the next alert)");
  command_->add_flag("--follow,-f", follow_,
                     "Keep printing new alerts until SIGINT or SIGTERM, filling any the "
                     "subscription misses from the alert log");
  command_->add_option("--tier", tier_, "Print only alerts into this tier (\"\": below every tier)")
      ->each([this](const std::string&) { tier_given_ = true; });
  command_->add_option("--state", state_path_,
                       "A file keeping the last seq printed: read at start (a run goes on "
                       "after it, whatever --since says) and rewritten as alerts are printed");
  command_->add_option("--alerts", alerts_endpoint_, "tallyd's alerts socket (PUB)")
      ->capture_default_str();
  command_->footer(
      "Each line is an alert body as tallyd publishes it:\n"
      "  "
      "{\"seq\":7,\"subject\":\"plate:NY:ABC1234\",\"from\":\"clean\",\"to\":\"warning\",\"score\":"
      "4,\n"
      "   \"event\":\"nyc:4521236789\",\"time\":\"2025-03-01T12:00:00Z\",\"cause\":\"event\"}\n"
      "seq numbers a daemon's alerts 1, 2, 3... across restarts. The alerts socket alone\n"
      "loses alerts when a subscriber falls behind; this command notices every jump in seq\n"
      "and reads the missing alerts from tallyd's alert log (the `alerts` op), which keeps\n"
      "them for --alerts-retain. Alerts the log no longer holds are counted as missed.\n"
      "Exits 0 when done or stopped by a signal, 1 if alerts were missed, 2 if tallyd did\n"
      "not answer.\n\n"
      "Examples:\n"
      "  tally alerts --since 1                       # everything the log keeps\n"
      "  tally alerts --follow --tier suspended       # new suspensions as they happen\n"
      "  tally alerts --follow --state alerts.seq     # resumable, for a notifier");
}

int AlertsCommand::run(const ClientOptions& options) const {
  // Before any thread starts (the ZeroMQ context's): see core/signal_watcher.h.
  SignalWatcher signals({.stop = {SIGINT, SIGTERM}, .reload = {}});
  client::AlertFollowerOptions follow;
  follow.alerts_endpoint = alerts_endpoint_;
  follow.query_endpoint = options.query_endpoint;
  follow.query_timeout = options.timeout();
  follow.since = since_;
  follow.curve = options.curve;
  follow.from_now = follow_ && since_ == 0;
  if (!state_path_.empty()) {
    const Result<std::optional<std::uint64_t>> saved = read_state(state_path_);
    if (!saved) {
      std::fprintf(stderr, "tally alerts: %s\n", saved.status().to_string().c_str());
      return kExitNoAnswer;
    }
    if (*saved) {
      follow.since = **saved + 1;
      follow.from_now = false;
    }
  }
  zmq::context_t context(1);
  client::AlertFollower follower(context, follow);

  std::uint64_t printed = 0;
  std::uint64_t first_printed = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t saved_seq = 0;
  auto saved_at = std::chrono::steady_clock::now();
  int exit_code = kExitDone;
  const auto save = [&](bool now) {
    if (state_path_.empty() || last_seq == saved_seq) return;
    if (!now && std::chrono::steady_clock::now() - saved_at < kStateSaveEvery) return;
    std::fflush(stdout);  // never a saved seq before its line is out
    if (const Status written = write_state(state_path_, last_seq); !written.is_ok()) {
      std::fprintf(stderr, "tally alerts: %s\n", written.to_string().c_str());
    }
    saved_seq = last_seq;
    saved_at = std::chrono::steady_clock::now();
  };
  const auto print = [&](const api::AlertBody& alert) {
    last_seq = alert.seq;
    if (tier_given_ && alert.to != tier_) return;
    if (printed++ == 0) first_printed = alert.seq;
    const std::string line = api::to_json(alert);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  };

  while (!follow_ && !signals.stop_requested()) {
    // A dump: read the log to its newest alert, then stop.
    const Result<bool> done = follower.catch_up();
    if (!done) {
      std::fprintf(stderr, "tally alerts: %s\n", done.status().to_string().c_str());
      exit_code = kExitNoAnswer;
      break;
    }
    while (const std::optional<api::AlertBody> alert = follower.take_read()) print(*alert);
    if (*done) break;
  }
  while (follow_ && !signals.stop_requested()) {
    const Result<std::optional<api::AlertBody>> alert = follower.next(kWaitTurn);
    if (!alert && alert.status().code() == Status::Code::kCorruption) {
      std::fprintf(stderr, "tally alerts: %s\n", alert.status().to_string().c_str());
      exit_code = kExitError;
      break;
    }
    if (!alert) {
      // tallyd away (restarting?): say so, and keep trying until stopped.
      std::fprintf(stderr, "tally alerts: %s; retrying\n", alert.status().to_string().c_str());
      continue;
    }
    if (*alert) {
      print(**alert);
    } else {
      std::fflush(stdout);  // quiet: what was printed reaches the reader now
    }
    save(false);
  }
  std::fflush(stdout);
  save(true);
  const client::AlertFollowerCounters& counts = follower.counters();
  if (counts.missed > 0 && exit_code == kExitDone) exit_code = kExitError;
  std::fprintf(
      stderr,
      "tally alerts: %llu printed%s, %llu gaps filled from the log (%llu alerts read "
      "there), %llu missed (gone from the log)%s\n",
      static_cast<unsigned long long>(printed),
      printed > 0 ? fmt::format(" (seq {}..{})", first_printed, last_seq).c_str() : "",
      static_cast<unsigned long long>(counts.gaps),
      static_cast<unsigned long long>(counts.from_log),
      static_cast<unsigned long long>(counts.missed),
      state_path_.empty() ? "" : fmt::format("; last seq {} in {}", last_seq, state_path_).c_str());
  return exit_code;
}

}  // namespace tally::cli
