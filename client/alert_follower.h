// Follows tallyd's tier-change alerts exactly once each, in seq order.
//
// The alerts socket (PUB) guarantees nothing: a subscriber that falls behind
// its high-water mark, or connects late, or reconnects after a restart,
// silently misses alerts. Every alert carries a seq and is in the daemon's
// alert log before it is published, so this follower subscribes and, when
// seq jumps (or at start, or after a quiet spell in which the last alerts
// of a burst may have been dropped), reads the missing range from the log
// with the `alerts` op. What it hands out is every seq from its start on,
// once, in order; what the log no longer holds (older than --alerts-retain)
// is counted as missed, never skipped silently.
//
//   AlertFollower follower(context, {.since = saved + 1});
//   while (running) {
//     auto alert = follower.next(std::chrono::milliseconds(200));
//     if (!alert) { report(alert.status()); ... }   // tallyd unreachable...
//     else if (*alert) { handle(**alert); save(follower.next_seq()); }
//   }
//
// Thread-safety: none; one follower per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "api/answers.h"
#include "api/endpoints.h"
#include "client/query_client.h"
#include "core/status.h"

namespace tally::client {

struct AlertFollowerOptions {
  std::string alerts_endpoint = api::kDefaultAlertsEndpoint;
  std::string query_endpoint = api::kDefaultQueryEndpoint;
  // The first seq wanted; 0: the oldest the log keeps.
  std::uint64_t since = 0;
  // Start after the newest alert instead (`since` is then ignored).
  bool from_now = false;
  // How long a query for the log may take.
  std::chrono::milliseconds query_timeout{5000};
  // A follower that has heard nothing for this long asks the log whether
  // alerts came that the subscription missed (the tail of a burst gives no
  // later seq to show the gap). Default 500 ms.
  std::chrono::milliseconds quiet_check{500};
  // tallyd --auth: this client's credentials (it needs the reader role).
  std::shared_ptr<const security::CurveCredentials> curve;
};

struct AlertFollowerCounters {
  std::uint64_t delivered = 0;
  std::uint64_t from_subscription = 0;
  std::uint64_t from_log = 0;  // read back from the log: the start, and gaps
  std::uint64_t gaps = 0;      // jumps in seq the log filled
  std::uint64_t missed = 0;    // gone from the log (retention) before they were read
};

class AlertFollower {
 public:
  // Subscribes at once (ZeroMQ connects lazily: no daemon is needed yet).
  // Throws zmq::error_t for an endpoint ZeroMQ cannot parse.
  AlertFollower(zmq::context_t& context, AlertFollowerOptions options);

  // The next alert in seq order, waiting at most `wait` for one; nullopt if
  // none came. Fails (kUnavailable) when tallyd does not answer a query for
  // the log, and (kCorruption) when the daemon's seq went backwards
  // (its alert log was removed, or it runs without a journal and restarted);
  // both may be retried.
  Result<std::optional<api::AlertBody>> next(std::chrono::milliseconds wait);

  // Reads (up to 10,000 more alerts of) the log from where the follower
  // stands, without the subscription: true once it has reached the newest.
  // For a one-off dump: call until true, taking what it read with take_read().
  Result<bool> catch_up();
  // An alert already read and not yet delivered, in order; nullopt if none.
  std::optional<api::AlertBody> take_read();

  // The seq the next delivered alert will have.
  std::uint64_t next_seq() const noexcept { return expected_; }
  const AlertFollowerCounters& counters() const noexcept { return counters_; }

 private:
  // Where to start, once: from the log's answer.
  Status start();
  // Reads the log from expected_ until it holds `through` (0: to its end).
  Status fill(std::uint64_t through);
  void take(api::AlertBody alert);
  // Takes a page of the log: counts what retention dropped, then each alert.
  void absorb(api::AlertsAnswer& page);

  AlertFollowerOptions options_;
  QueryClient query_;
  zmq::socket_t subscription_;
  bool started_ = false;
  std::uint64_t expected_ = 0;  // next seq to deliver
  std::deque<api::AlertBody> ready_;
  std::chrono::steady_clock::time_point last_heard_;
  AlertFollowerCounters counters_;
};

}  // namespace tally::client
