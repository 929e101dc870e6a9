#include "daemon/alert_publisher.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <zmq_addon.hpp>

namespace tally::daemon {
namespace {

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

api::AlertBody alert_body(std::uint64_t seq, const scorer::Alert& alert) {
  api::AlertBody body;
  body.seq = seq;
  body.subject = alert.subject.view();
  body.from = alert.from;
  body.to = alert.to;
  body.score = alert.score;
  body.event = alert.event_id.view();
  body.time_ms = alert.time_ms;
  body.by_expiry = alert.by_expiry;
  return body;
}

AlertPublisher::AlertPublisher(scorer::Engine& engine, zmq::socket_t& alerts,
                               storage::AlertLog& log, AlertCounters& counters)
    : engine_(engine), alerts_(alerts), log_(log), counters_(counters) {
  update_counters();
}

void AlertPublisher::append(api::AlertBody body, const storage::journal::AlertOrigin& origin) {
  body.seq = log_.next_seq();
  std::string json = api::to_json(body);
  log_.append(json, origin, wall_now_ms());
  waiting_.emplace_back(std::move(body.to), std::move(json));
}

void AlertPublisher::restore(const storage::journal::Record& record) {
  if (log_.contains(record.origin)) return;
  api::AlertBody body;
  body.subject = record.subject;
  body.from = record.tier_from;
  body.to = record.tier_to;
  body.score = record.score;
  body.event = record.id;
  body.time_ms = record.time_ms;
  body.by_expiry = record.by_expiry;
  append(std::move(body), record.origin);
  counters_.restored.fetch_add(1, std::memory_order_relaxed);
}

void AlertPublisher::publish_pending() {
  if (waiting_.size() < kMaxWaiting) {
    engine_.drain_alerts([this](const scorer::Alert& alert) {
      append(alert_body(0, alert), alert.origin);
      ++drained_waiting_;
    });
  }
  const std::int64_t now = wall_now_ms();
  if (waiting_.empty()) {
    if (now - retention_checked_ms_ >= 1000) {
      retention_checked_ms_ = now;
      log_.enforce_retention(now);
      update_counters();
    }
    return;
  }
  if (const Status committed = log_.commit(now); !committed.is_ok()) {
    counters_.log_errors.fetch_add(1, std::memory_order_relaxed);
    if (now - error_logged_ms_ >= 10'000) {
      error_logged_ms_ = now;
      spdlog::error("alert log: {}; {} alerts wait, unpublished; retrying", committed.to_string(),
                    waiting_.size());
    }
    return;
  }
  for (const auto& [topic, body] : waiting_) {
    std::array<zmq::const_buffer, 2> frames = {zmq::buffer(topic), zmq::buffer(body)};
    (void)zmq::send_multipart(alerts_, frames, zmq::send_flags::dontwait);
  }
  counters_.published.fetch_add(waiting_.size(), std::memory_order_relaxed);
  waiting_.clear();
  engine_.note_alerts_logged(drained_waiting_);
  drained_waiting_ = 0;
  update_counters();
}

void AlertPublisher::update_counters() {
  counters_.log_bytes.store(log_.bytes(), std::memory_order_relaxed);
  counters_.oldest_seq.store(log_.oldest_seq(), std::memory_order_relaxed);
  counters_.next_seq.store(log_.next_seq(), std::memory_order_relaxed);
}

}  // namespace tally::daemon
