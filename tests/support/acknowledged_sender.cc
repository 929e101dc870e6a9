#include "tests/support/acknowledged_sender.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <vector>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::testing {

AcknowledgedSender::AcknowledgedSender(zmq::context_t& context, const std::string& endpoint,
                                       std::chrono::milliseconds resend_after)
    : context_(context), resend_after_(resend_after) {
  reconnect(endpoint);
}

void AcknowledgedSender::send_frames(const std::string& batch_id, Batch& batch) {
  batch.sent = Clock::now();
  std::array<zmq::const_buffer, 2> frames = {zmq::buffer(batch_id), zmq::buffer(batch.payload)};
  // A DEALER queues while it connects; a send fails only past its
  // high-water mark, which a test's window never reaches.
  if (!zmq::send_multipart(*dealer_, frames, zmq::send_flags::dontwait)) {
    throw std::runtime_error("cannot queue batch " + batch_id);
  }
}

void AcknowledgedSender::send(const std::string& batch_id, std::string payload) {
  auto [entry, fresh] = in_flight_.insert_or_assign(batch_id, Batch{std::move(payload), {}});
  if (!fresh) ++resends_;
  send_frames(entry->first, entry->second);
}

std::optional<AcknowledgedSender::Answer> AcknowledgedSender::next_answer(
    Clock::time_point deadline) {
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return std::nullopt;
    Clock::time_point resend_at = Clock::time_point::max();
    for (auto& [batch_id, batch] : in_flight_) {
      if (now >= batch.sent + resend_after_) {  // no answer in time: it goes again
        send_frames(batch_id, batch);
        ++resends_;
      }
      resend_at = std::min(resend_at, batch.sent + resend_after_);
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, resend_at) - now);
    zmq::pollitem_t item{dealer_->handle(), 0, ZMQ_POLLIN, 0};
    const Result<int> ready =
        poll_sockets({&item, 1}, std::max(wait, std::chrono::milliseconds(1)));
    if (!ready) throw std::runtime_error(ready.status().to_string());
    if ((item.revents & ZMQ_POLLIN) == 0) continue;
    std::vector<zmq::message_t> reply;
    if (!zmq::recv_multipart(*dealer_, std::back_inserter(reply), zmq::recv_flags::dontwait)) {
      continue;
    }
    if (reply.size() != 2) {
      ADD_FAILURE() << "an acknowledgement of " << reply.size() << " frames, not 2";
      continue;
    }
    Answer answer{reply[0].to_string(), reply[1].to_string(), true};
    answer.was_in_flight = in_flight_.erase(answer.batch_id) > 0;
    return answer;
  }
}

void AcknowledgedSender::reconnect(const std::string& endpoint) {
  dealer_.emplace(context_, zmq::socket_type::dealer);
  dealer_->set(zmq::sockopt::linger, 0);
  dealer_->connect(endpoint);
  for (auto& [batch_id, batch] : in_flight_) send_frames(batch_id, batch);
  resends_ += in_flight_.size();
}

std::string submit_until_answered(zmq::context_t& context, const std::string& endpoint,
                                  const std::string& batch_id, const std::string& payload,
                                  std::chrono::milliseconds timeout) {
  AcknowledgedSender sender(context, endpoint);
  sender.send(batch_id, payload);
  const auto deadline = AcknowledgedSender::Clock::now() + timeout;
  while (auto answer = sender.next_answer(deadline)) {
    if (answer->batch_id == batch_id) return answer->body;
  }
  ADD_FAILURE() << "batch " << batch_id << " unanswered after " << timeout.count() << " ms";
  throw std::runtime_error("batch " + batch_id + " unanswered");
}

}  // namespace tally::testing
