// Tier-change alerts, from the workers to the alert log and the alerts socket.
//
// Workers queue their alerts (scorer::Engine::drain_alerts); this gives each
// the next sequence number, appends it to the alert log (storage/alert_log.h),
// commits the log (written and, unless --fsync=none, synced), and only then
// publishes each on the PUB socket as two frames: the tier entered, then the
// body (api::AlertBody's JSON, "seq" first). So every seq a subscriber sees
// is in the log, and a subscriber that sees seq jump reads the gap back with
// the `alerts` op.
//
// A send never waits: a subscriber past its high-water mark loses alerts
// (PUB semantics), the workers never stall on it; the log still has them.
// While the log cannot be written (a full disk) alerts wait here, unpublished,
// and past kMaxWaiting the workers wait on their alert queues.
//
// Thread-safety: the control thread only (it drains the engine's alert
// queues, which have one consumer, and owns the log); the control loop calls
// it between requests and while a worker answers one, the shutdown sequence
// while it waits for each step. The counters are atomics for /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "api/answers.h"
#include "core/alert_counters.h"
#include "scorer/engine.h"
#include "storage/alert_log.h"

namespace tally::daemon {

// One alert's fields, as views into `alert` (the body is the second frame).
api::AlertView alert_view(std::uint64_t seq, const scorer::Alert& alert) noexcept;

class AlertPublisher {
 public:
  static constexpr std::size_t kMaxWaiting = 100'000;

  AlertPublisher(scorer::Engine& engine, zmq::socket_t& alerts, storage::AlertLog& log,
                 AlertCounters& counters);
  AlertPublisher(const AlertPublisher&) = delete;
  AlertPublisher& operator=(const AlertPublisher&) = delete;

  // At start, after recovery: appends a journaled alert the log lacks (a
  // crash came between its journal write and the log's), to be published by
  // the next publish_pending().
  void restore(const storage::journal::Record& record);
  // Logs and publishes every alert the workers have queued.
  void publish_pending();

  const storage::AlertLog& log() const noexcept { return log_; }

 private:
  // Numbers the alert, logs it and keeps its frames for the publish after commit.
  void append(api::AlertView alert, const storage::journal::AlertOrigin& origin,
              std::int64_t now_ms);
  void update_counters();

  scorer::Engine& engine_;
  zmq::socket_t& alerts_;
  storage::AlertLog& log_;
  AlertCounters& counters_;
  // Appended to the log, waiting for its commit: each alert's topic and
  // body frames, back to back in waiting_bytes_. One buffer kept from batch
  // to batch, rather than two strings per alert: the control thread writes
  // an alert per tier change, and once the buffer has grown to a batch's
  // size an alert costs no allocation here.
  struct WaitingAlert {
    std::size_t topic_at = 0;  // offset in waiting_bytes_; the body follows the topic
    std::size_t topic_size = 0;
    std::size_t body_size = 0;
  };
  std::string waiting_bytes_;
  std::vector<WaitingAlert> waiting_;
  std::uint64_t drained_waiting_ = 0;  // of them, drained from the engine
  std::int64_t error_logged_ms_ = 0;
  std::int64_t retention_checked_ms_ = 0;
};

}  // namespace tally::daemon
