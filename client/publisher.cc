#include "client/publisher.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <thread>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::client {

using Clock = std::chrono::steady_clock;

// One acknowledged batch from its first send until answered or given up.
struct Publisher::InFlight {
  std::string payload;
  std::uint32_t events = 0;
  std::uint64_t first_input = 0;  // input line of the batch's first line
  std::vector<std::pair<std::uint32_t, std::uint64_t>> jumps;  // see Publisher::batch_jumps_
  int attempts = 0;                                            // sends ZeroMQ took
  bool on_wire = false;             // false: waiting for ZeroMQ to take it (no connection)
  Clock::time_point sent_at;        // on_wire: the last send
  Clock::time_point waiting_since;  // !on_wire: since when ZeroMQ refused it
};

std::uint64_t PublishSummary::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : rejected) total += count;
  return total;
}

namespace {

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:g}s", static_cast<double>(duration.count()) / 1000.0);
}

}  // namespace

Publisher::Publisher(zmq::context_t& context, PublisherOptions options)
    : options_(std::move(options)),
      socket_(context, options_.acknowledged ? zmq::socket_type::dealer : zmq::socket_type::push) {
  if (options_.batch_max_events == 0) options_.batch_max_events = 1;
  if (options_.max_in_flight == 0) options_.max_in_flight = 1;
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  socket_.set(zmq::sockopt::sndhwm, options_.send_high_water_mark);
  // Queue only to a live connection: with no tallyd a send waits (and then
  // fails) instead of piling messages up for a peer that may never come.
  socket_.set(zmq::sockopt::immediate, true);
  if (options_.acknowledged) {
    // Unanswered batches are given up explicitly; nothing to deliver on close.
    socket_.set(zmq::sockopt::linger, 0);
    parser_ = std::make_unique<simdjson::dom::parser>();
  } else {
    // Fire-and-forget: queued messages get as long to leave on close as one
    // send may wait.
    socket_.set(zmq::sockopt::linger,
                options_.send_timeout.count() < 0
                    ? -1
                    : static_cast<int>(std::min<std::int64_t>(options_.send_timeout.count(),
                                                              std::numeric_limits<int>::max())));
  }
  security::secure_client_socket(socket_, options_.curve.get());
  socket_.connect(options_.endpoint);
  batch_prefix_ = fmt::format("{}-{}-", ::getpid(),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

Publisher::~Publisher() = default;

bool Publisher::add(std::string_view line) {
  ++input_lines_;
  if (!summary_.failure.empty()) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
  if (options_.max_events_per_second > 0) pace();
  if (batch_events_ > 0 && options_.batch_max_delay.count() > 0 &&
      Clock::now() - batch_started_ >= options_.batch_max_delay) {
    if (!flush()) return false;
  }
  if (batch_events_ > 0 && batch_.size() + line.size() + 1 > options_.batch_max_bytes) {
    if (!flush()) return false;
  }
  if (batch_events_ == 0) {
    batch_first_input_ = input_lines_;
    batch_jumps_.clear();
    if (options_.batch_max_delay.count() > 0) batch_started_ = Clock::now();
    // Allocation per batch, not per line: reserve what a full batch needs.
    const std::size_t per_line = line.size() + 1;
    batch_.reserve(options_.batch_max_events >= options_.batch_max_bytes / per_line
                       ? options_.batch_max_bytes
                       : options_.batch_max_events * per_line);
  } else if (options_.acknowledged && input_lines_ != last_input_ + 1) {
    batch_jumps_.emplace_back(static_cast<std::uint32_t>(batch_events_ + 1), input_lines_);
  }
  last_input_ = input_lines_;
  batch_.append(line);
  batch_.push_back('\n');
  ++batch_events_;
  ++summary_.events;
  if (batch_events_ >= options_.batch_max_events) return flush();
  return true;
}

bool Publisher::flush() {
  if (batch_events_ > 0) {
    ++summary_.batches;
    if (options_.acknowledged) {
      std::string payload;
      payload.swap(batch_);
      send_acknowledged(std::move(payload));
    } else {
      send_fire_and_forget();
      batch_.clear();  // ZeroMQ copied it: keep the buffer for the next batch
    }
    batch_events_ = 0;
  }
  return summary_.failure.empty();
}

bool Publisher::poll(std::chrono::milliseconds wait) {
  if (batch_events_ > 0 && options_.batch_max_delay.count() > 0 &&
      Clock::now() - batch_started_ >= options_.batch_max_delay) {
    flush();
  }
  if (options_.acknowledged && summary_.failure.empty()) {
    if (in_flight_.empty()) {
      if (wait.count() > 0) std::this_thread::sleep_for(wait);
    } else {
      pump(wait);
    }
  } else if (wait.count() > 0) {
    std::this_thread::sleep_for(wait);
  }
  return summary_.failure.empty();
}

void Publisher::pace() {
  // Token bucket holding at most one second's worth: a burst after a pause is
  // bounded, and the long-run rate is max_events_per_second.
  const double rate = options_.max_events_per_second;
  auto now = Clock::now();
  if (tokens_at_ == Clock::time_point{}) {
    tokens_ = 1;
  } else {
    tokens_ = std::min(std::max(rate, 1.0),
                       tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
  }
  tokens_at_ = now;
  if (tokens_ < 1) {
    const auto wait = std::chrono::duration<double>((1 - tokens_) / rate);
    // Keep answers flowing while waiting (acknowledged mode).
    if (options_.acknowledged && !in_flight_.empty()) {
      pump(std::chrono::ceil<std::chrono::milliseconds>(wait));
    }
    std::this_thread::sleep_until(now + std::chrono::duration_cast<Clock::duration>(wait));
    now = Clock::now();
    tokens_ += rate * std::chrono::duration<double>(now - tokens_at_).count();
    tokens_at_ = now;
  }
  tokens_ -= 1;
}

void Publisher::send_fire_and_forget() {
  if (!summary_.failure.empty()) return;  // the batch built before the failure: dropped
  // Waits while tallyd's high-water mark is full (backpressure) or there is
  // no connection, at most send_timeout. Sends never block, so a signal can
  // only interrupt the poll, which says so instead of throwing.
  const bool forever = options_.send_timeout.count() < 0;
  const auto deadline =
      Clock::now() + std::max(options_.send_timeout, std::chrono::milliseconds(0));
  for (;;) {
    if (socket_.send(zmq::buffer(batch_), zmq::send_flags::dontwait)) {
      summary_.events_sent += batch_events_;
      return;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (!forever && left.count() <= 0) break;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLOUT, 0};
    const Result<int> ready =
        poll_sockets({&item, 1}, forever ? std::chrono::milliseconds(-1) : left);
    if (!ready) {
      fail(std::string(ready.status().message()));
      return;
    }
  }
  fail(fmt::format("{} took no message within {} (is tallyd running?)", options_.endpoint,
                   seconds_text(options_.send_timeout)));
}

void Publisher::send_acknowledged(std::string payload) {
  const auto events = static_cast<std::uint32_t>(batch_events_);
  while (in_flight_.size() >= options_.max_in_flight && summary_.failure.empty()) {
    pump(options_.ack_timeout);
  }
  if (!summary_.failure.empty()) {
    ++summary_.unacknowledged_batches;
    summary_.unacknowledged_events += events;
    return;
  }
  auto [it, inserted] = in_flight_.try_emplace(batch_prefix_ + std::to_string(next_batch_++));
  InFlight& entry = it->second;
  entry.payload = std::move(payload);
  entry.events = events;
  entry.first_input = batch_first_input_;
  entry.jumps.swap(batch_jumps_);
  entry.waiting_since = Clock::now();
  resend_due(entry.waiting_since);  // sends it now if ZeroMQ can take it
}

bool Publisher::transmit(const std::string& batch_id, const std::string& payload) {
  const std::array<zmq::const_buffer, 2> frames = {zmq::buffer(batch_id), zmq::buffer(payload)};
  return zmq::send_multipart(socket_, frames, zmq::send_flags::dontwait).has_value();
}

void Publisher::pump(std::chrono::milliseconds wait) {
  // Wake for an answer, for the next deadline, or (if a batch waits for
  // ZeroMQ) for the socket becoming writable.
  auto now = Clock::now();
  auto wake = now + wait;
  bool waiting = false;
  for (const auto& [id, entry] : in_flight_) {
    if (entry.on_wire) {
      wake = std::min(wake, entry.sent_at + options_.ack_timeout);
    } else {
      waiting = true;
      if (options_.send_timeout.count() >= 0) {
        wake = std::min(wake, entry.waiting_since + options_.send_timeout);
      }
    }
  }
  const auto timeout = std::max(std::chrono::milliseconds(0),
                                std::chrono::ceil<std::chrono::milliseconds>(wake - now));
  zmq::pollitem_t item{socket_.handle(), 0,
                       static_cast<short>(ZMQ_POLLIN | (waiting ? ZMQ_POLLOUT : 0)), 0};
  // A signal cuts the wait short (0 ready): the caller's loop waits again or stops.
  const Result<int> ready = poll_sockets({&item, 1}, timeout);
  if (!ready) {
    fail(std::string(ready.status().message()));
    return;
  }
  if (*ready > 0 && (item.revents & ZMQ_POLLIN) != 0) {
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      // A DEALER hears [batch id, answer].
      if (frames.size() >= 2) {
        const auto found = in_flight_.find(frames[frames.size() - 2].to_string_view());
        // An answer for a batch already answered (a resend's twin) is ignored.
        if (found != in_flight_.end()) {
          record_answer(found->second, frames.back().to_string_view());
          in_flight_.erase(found);
        }
      }
      frames.clear();
    }
  }
  resend_due(Clock::now());
}

void Publisher::resend_due(Clock::time_point now) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    InFlight& entry = it->second;
    const bool due = entry.on_wire ? now - entry.sent_at >= options_.ack_timeout : true;
    if (!due) {
      ++it;
      continue;
    }
    if (entry.on_wire && entry.attempts >= options_.max_attempts) {
      give_up(it++);
      continue;
    }
    if (transmit(it->first, entry.payload)) {
      if (++entry.attempts == 1) {
        summary_.events_sent += entry.events;
      } else {
        ++summary_.resends;
      }
      entry.on_wire = true;
      entry.sent_at = now;
    } else if (entry.on_wire) {
      entry.on_wire = false;  // the connection went away; wait for it
      entry.waiting_since = now;
    } else if (options_.send_timeout.count() >= 0 &&
               now - entry.waiting_since >= options_.send_timeout) {
      fail(fmt::format("no connection to {} within {} (is tallyd running?)", options_.endpoint,
                       seconds_text(options_.send_timeout)));
      return;
    }
    ++it;
  }
}

void Publisher::record_answer(const InFlight& batch, std::string_view body) {
  simdjson::dom::element answer;
  if (parser_->parse(body.data(), body.size()).get(answer) != simdjson::SUCCESS) {
    // Something answered, but not with a verdict: nothing is known to have taken.
    ++summary_.unacknowledged_batches;
    summary_.unacknowledged_events += batch.events;
    return;
  }
  ++summary_.acknowledged_batches;
  summary_.acknowledged_events += batch.events;
  std::string_view error;
  if (answer["error"]["code"].get_string().get(error) == simdjson::SUCCESS) {
    // The whole batch was refused (e.g. bad framing): every event in it.
    summary_.rejected[std::string(error)] += batch.events;
    return;
  }
  std::uint64_t value = 0;
  if (answer["accepted"].get_uint64().get(value) == simdjson::SUCCESS) summary_.accepted += value;
  if (answer["duplicates"].get_uint64().get(value) == simdjson::SUCCESS) {
    summary_.duplicates += value;
  }
  simdjson::dom::array rejected;
  if (answer["rejected"].get_array().get(rejected) != simdjson::SUCCESS) return;
  for (auto item : rejected) {
    std::string_view reason;
    if (item["reason"].get_string().get(reason) != simdjson::SUCCESS) reason = "unknown";
    auto counted = summary_.rejected.find(reason);
    if (counted == summary_.rejected.end()) {
      counted = summary_.rejected.emplace(std::string(reason), 0).first;
    }
    ++counted->second;
    std::uint64_t line = 0;
    if (summary_.rejected_lines.size() < options_.max_rejected_lines &&
        item["line"].get_uint64().get(line) == simdjson::SUCCESS && line >= 1) {
      summary_.rejected_lines.push_back({input_line_of(batch, line), std::string(reason)});
    }
  }
}

std::uint64_t Publisher::input_line_of(const InFlight& batch, std::uint64_t batch_line) const {
  // The last break in the run of input lines at or before batch_line.
  const auto after =
      std::upper_bound(batch.jumps.begin(), batch.jumps.end(), batch_line,
                       [](std::uint64_t line, const auto& jump) { return line < jump.first; });
  if (after == batch.jumps.begin()) return batch.first_input + batch_line - 1;
  const auto& jump = *std::prev(after);
  return jump.second + (batch_line - jump.first);
}

void Publisher::fail(std::string why) {
  if (summary_.failure.empty()) summary_.failure = std::move(why);
  while (!in_flight_.empty()) give_up(in_flight_.begin());
}

void Publisher::give_up(InFlightMap::iterator batch) {
  ++summary_.unacknowledged_batches;
  summary_.unacknowledged_events += batch->second.events;
  in_flight_.erase(batch);
}

PublishSummary Publisher::finish() {
  flush();
  while (!in_flight_.empty()) pump(options_.ack_timeout);
  return summary_;
}

}  // namespace tally::client
