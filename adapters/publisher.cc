#include "adapters/publisher.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>
#include <zmq_addon.hpp>

namespace tally::adapters {

struct Publisher::InFlight {
  std::string payload;
  std::chrono::steady_clock::time_point sent_at;
  int attempts = 0;
};

std::uint64_t PublishSummary::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : rejected) total += count;
  return total;
}

Publisher::Publisher(zmq::context_t& context, PublisherOptions options)
    : options_(std::move(options)),
      socket_(context, options_.acknowledged ? zmq::socket_type::dealer : zmq::socket_type::push) {
  socket_.set(zmq::sockopt::sndhwm, options_.send_high_water_mark);
  // Fire-and-forget: give queued messages time to leave on close.
  socket_.set(zmq::sockopt::linger, options_.acknowledged ? 0 : 30000);
  socket_.connect(options_.endpoint);
  // Batch ids unique across processes and runs: pid and start time.
  batch_prefix_ = fmt::format("{}-{}-", ::getpid(),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  if (options_.batch_max_events == 0) options_.batch_max_events = 1;
}

Publisher::~Publisher() = default;

void Publisher::add(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  if (!batch_.empty() && batch_.size() + line.size() + 1 > options_.batch_max_bytes) flush();
  batch_.append(line);
  batch_.push_back('\n');
  ++batch_events_;
  ++summary_.events;
  if (batch_events_ >= options_.batch_max_events) flush();
}

void Publisher::flush() {
  if (batch_events_ == 0) return;
  std::string payload;
  payload.swap(batch_);
  batch_events_ = 0;
  send_batch(std::move(payload));
}

void Publisher::send_batch(std::string payload) {
  ++summary_.batches;
  if (!options_.acknowledged) {
    if (!socket_.send(zmq::buffer(payload), zmq::send_flags::none)) {
      throw std::runtime_error("cannot send to " + options_.endpoint);
    }
    return;
  }
  while (in_flight_.size() >= options_.max_in_flight) pump(std::chrono::milliseconds(100));
  const std::string batch_id = batch_prefix_ + std::to_string(next_batch_++);
  auto& entry = in_flight_[batch_id];
  entry.payload = std::move(payload);
  entry.attempts = 1;
  entry.sent_at = std::chrono::steady_clock::now();
  transmit(batch_id, entry.payload);
}

void Publisher::transmit(const std::string& batch_id, const std::string& payload) {
  std::array<zmq::const_buffer, 2> frames = {zmq::buffer(batch_id), zmq::buffer(payload)};
  if (!zmq::send_multipart(socket_, frames)) {
    throw std::runtime_error("cannot send to " + options_.endpoint);
  }
}

void Publisher::pump(std::chrono::milliseconds wait) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, wait) > 0) {
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      if (frames.size() == 2) {
        const auto found = in_flight_.find(frames[0].to_string());
        // An answer for a batch already answered (a resend's twin) is ignored.
        if (found != in_flight_.end()) {
          record_answer(frames[1].to_string_view());
          in_flight_.erase(found);
        }
      }
      frames.clear();
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    InFlight& entry = it->second;
    if (now - entry.sent_at < options_.ack_timeout) {
      ++it;
    } else if (entry.attempts >= options_.max_attempts) {
      ++summary_.unacknowledged_batches;
      it = in_flight_.erase(it);
    } else {
      ++entry.attempts;
      ++summary_.resends;
      entry.sent_at = now;
      transmit(it->first, entry.payload);
      ++it;
    }
  }
}

void Publisher::record_answer(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element answer;
  if (parser.parse(body.data(), body.size()).get(answer) != simdjson::SUCCESS) return;
  std::uint64_t value = 0;
  if (answer["accepted"].get_uint64().get(value) == simdjson::SUCCESS) summary_.accepted += value;
  if (answer["duplicates"].get_uint64().get(value) == simdjson::SUCCESS) {
    summary_.duplicates += value;
  }
  simdjson::dom::array rejected;
  if (answer["rejected"].get_array().get(rejected) == simdjson::SUCCESS) {
    for (auto item : rejected) {
      std::string_view reason;
      if (item["reason"].get_string().get(reason) == simdjson::SUCCESS) {
        ++summary_.rejected[std::string(reason)];
      }
    }
  }
  std::string_view error;
  if (answer["error"]["code"].get_string().get(error) == simdjson::SUCCESS) {
    ++summary_.rejected[std::string(error)];
  }
}

PublishSummary Publisher::finish() {
  flush();
  while (!in_flight_.empty()) pump(std::chrono::milliseconds(100));
  return summary_;
}

}  // namespace tally::adapters
