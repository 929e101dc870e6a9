#include "client/alert_follower.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::client {
namespace {

Result<api::AlertsAnswer> ask_log(QueryClient& query, std::uint64_t since) {
  const std::string request =
      api::to_json(api::Request(api::AlertsRequest{since, api::kMaxAlertsLimit}));
  Result<std::string> answer = query.request(request);
  if (!answer) return answer.status();
  return api::parse_answer<api::AlertsAnswer>(*answer);
}

}  // namespace

AlertFollower::AlertFollower(zmq::context_t& context, AlertFollowerOptions options)
    : options_(std::move(options)),
      query_(context, options_.query_endpoint, options_.query_timeout, options_.curve),
      subscription_(context, zmq::socket_type::sub),
      last_heard_(std::chrono::steady_clock::now()) {
  subscription_.set(zmq::sockopt::linger, 0);
  subscription_.set(zmq::sockopt::subscribe, "");
  security::secure_client_socket(subscription_, options_.curve.get());
  subscription_.connect(options_.alerts_endpoint);
}

Status AlertFollower::start() {
  // From now: a seq past every alert asks for the newest one's number only.
  Result<api::AlertsAnswer> head = ask_log(
      query_, options_.from_now ? std::numeric_limits<std::uint64_t>::max() : options_.since);
  if (!head) return head.status();
  if (options_.from_now) {
    expected_ = head->last + 1;
    started_ = true;
    return Status::ok();
  }
  expected_ = options_.since;
  started_ = true;
  absorb(*head);
  return Status::ok();
}

void AlertFollower::absorb(api::AlertsAnswer& page) {
  // What retention dropped is counted, and reading goes on from the oldest kept.
  counters_.missed += page.missed;
  expected_ = std::max(expected_, page.oldest);
  for (api::AlertBody& alert : page.alerts) {
    ++counters_.from_log;
    take(std::move(alert));
  }
}

void AlertFollower::take(api::AlertBody alert) {
  if (alert.seq != expected_) return;  // one already had
  ++expected_;
  ready_.push_back(std::move(alert));
}

Status AlertFollower::fill(std::uint64_t through) {
  while (through == 0 || expected_ <= through) {
    Result<api::AlertsAnswer> answer = ask_log(query_, expected_);
    if (!answer) return answer.status();
    if (answer->last + 1 < expected_) {
      return Status::corruption(fmt::format(
          "tallyd's newest alert is seq {}, but this follower is at {}: its alert log went "
          "back (removed, or a daemon without a journal restarted); start again with --since",
          answer->last, expected_));
    }
    const bool nothing_newer = answer->alerts.empty();
    absorb(*answer);
    if (nothing_newer) return Status::ok();
  }
  return Status::ok();
}

Result<bool> AlertFollower::catch_up() {
  if (!started_) {
    if (Status started = start(); !started.is_ok()) return started;
  }
  Result<api::AlertsAnswer> answer = ask_log(query_, expected_);
  if (!answer) return answer.status();
  absorb(*answer);
  return expected_ > answer->last;
}

Result<std::optional<api::AlertBody>> AlertFollower::next(std::chrono::milliseconds wait) {
  if (!started_) {
    if (Status started = start(); !started.is_ok()) return started;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (ready_.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_heard_ >= options_.quiet_check) {
      // Quiet: whatever the subscription missed at the end of a burst.
      last_heard_ = now;
      const std::uint64_t before = expected_;
      if (Status filled = fill(0); !filled.is_ok()) return filled;
      if (expected_ != before) ++counters_.gaps;
      continue;
    }
    const auto until = std::min(deadline, last_heard_ + options_.quiet_check);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    zmq::pollitem_t item{subscription_.handle(), 0, ZMQ_POLLIN, 0};
    const Result<int> polled =
        poll_sockets({&item, 1}, std::max(left, std::chrono::milliseconds(0)));
    if (!polled) return polled.status();
    if (*polled == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return std::optional<api::AlertBody>();
      continue;
    }
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(subscription_, std::back_inserter(frames),
                             zmq::recv_flags::dontwait) ||
        frames.size() != 2) {
      continue;
    }
    last_heard_ = std::chrono::steady_clock::now();
    Result<api::AlertBody> alert = api::parse_alert(frames[1].to_string_view());
    if (!alert) continue;                  // not an alert body: nothing to deliver
    if (alert->seq < expected_) continue;  // already delivered (from the log)
    if (alert->seq > expected_) {
      // A jump: the log has everything before it (it is written first).
      ++counters_.gaps;
      if (Status filled = fill(alert->seq - 1); !filled.is_ok()) return filled;
    }
    if (alert->seq == expected_) {
      ++counters_.from_subscription;
      take(std::move(alert).value());
    }
  }
  return take_read();
}

std::optional<api::AlertBody> AlertFollower::take_read() {
  if (ready_.empty()) return std::nullopt;
  api::AlertBody alert = std::move(ready_.front());
  ready_.pop_front();
  ++counters_.delivered;
  return alert;
}

}  // namespace tally::client
