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

api::AlertView alert_view(std::uint64_t seq, const scorer::Alert& alert) noexcept {
  return {seq,         alert.subject.view(),  alert.from,    alert.to,
          alert.score, alert.event_id.view(), alert.time_ms, alert.by_expiry};
}

AlertPublisher::AlertPublisher(scorer::Engine& engine, zmq::socket_t& alerts,
                               storage::AlertLog& log, AlertCounters& counters)
    : engine_(engine), alerts_(alerts), log_(log), counters_(counters) {
  update_counters();
}

void AlertPublisher::append(api::AlertView alert, const storage::journal::AlertOrigin& origin,
                            std::int64_t now_ms) {
  alert.seq = log_.next_seq();
  WaitingAlert& waiting = waiting_.emplace_back();
  waiting.topic_at = waiting_bytes_.size();
  waiting.topic_size = alert.to.size();
  waiting_bytes_.append(alert.to);
  const std::size_t body_at = waiting_bytes_.size();
  api::append_alert_json(waiting_bytes_, alert);
  waiting.body_size = waiting_bytes_.size() - body_at;
  log_.append(std::string_view(waiting_bytes_).substr(body_at), origin, now_ms);
}

void AlertPublisher::restore(const storage::journal::Record& record) {
  if (log_.contains(record.origin)) return;
  // seq 0 until append() numbers it.
  const api::AlertView alert = {
      0,         record.subject, record.tier_from, record.tier_to, record.score,
      record.id, record.time_ms, record.by_expiry};
  append(alert, record.origin, wall_now_ms());
  counters_.restored.fetch_add(1, std::memory_order_relaxed);
}

void AlertPublisher::publish_pending() {
  if (waiting_.size() < kMaxWaiting) {
    engine_.drain_alerts([this](const scorer::Alert& alert) {
      append(alert_view(0, alert), alert.origin, wall_now_ms());
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
  for (const WaitingAlert& waiting : waiting_) {
    const char* topic = waiting_bytes_.data() + waiting.topic_at;
    const std::array<zmq::const_buffer, 2> frames = {
        zmq::const_buffer(topic, waiting.topic_size),
        zmq::const_buffer(topic + waiting.topic_size, waiting.body_size)};
    (void)zmq::send_multipart(alerts_, frames, zmq::send_flags::dontwait);
  }
  counters_.published.fetch_add(waiting_.size(), std::memory_order_relaxed);
  waiting_.clear();
  waiting_bytes_.clear();
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
