#include "tests/support/alert_subscriber.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <vector>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

AlertSubscriber::AlertSubscriber(zmq::context_t& context, const std::string& endpoint)
    : socket_(context, zmq::socket_type::sub) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::subscribe, "");
  socket_.connect(endpoint);
}

bool AlertSubscriber::join(const std::function<void(int attempt)>& probe,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int attempt = 0; Clock::now() < deadline; ++attempt) {
    probe(attempt);
    // Long enough for an alert of a joined subscription to come back on an
    // idle machine; on a loaded one it comes during a later attempt's wait.
    if (next(std::chrono::milliseconds(100))) return true;
  }
  return false;
}

std::optional<AlertSubscriber::Alert> AlertSubscriber::next(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  const Result<int> ready = poll_sockets({&item, 1}, timeout);
  if (!ready) throw std::runtime_error(ready.status().to_string());
  if ((item.revents & ZMQ_POLLIN) == 0) return std::nullopt;
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
    return std::nullopt;
  }
  if (frames.size() != 2) {
    ADD_FAILURE() << "an alert of " << frames.size() << " frames, not 2";
    return std::nullopt;
  }
  Alert alert{frames[0].to_string(), frames[1].to_string(), {}};
  simdjson::dom::parser parser;
  std::string_view subject;
  if (parser.parse(alert.body)["subject"].get_string().get(subject) != simdjson::SUCCESS) {
    ADD_FAILURE() << "an alert without a subject: " << alert.body;
  }
  alert.subject = std::string(subject);
  return alert;
}

std::optional<AlertSubscriber::Alert> AlertSubscriber::next_about(
    std::string_view subject, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<Alert> alert = next(left);
    if (!alert) return std::nullopt;
    if (alert->subject == subject) return alert;
  }
}

}  // namespace tally::testing
