// The client of the brief, for tests: sends acknowledged batches over a
// DEALER, keeps each in flight until it is answered, and sends a batch again
// whenever `resend_after` passes without its answer. The events'
// ids make a resend safe, so a test that checks exact scores after crashes,
// full disks or a loaded machine never depends on how many resends it took:
// it waits for answers until a deadline, never counts them.
//
// Thread-safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <zmq.hpp>

namespace tally::testing {

class AcknowledgedSender {
 public:
  using Clock = std::chrono::steady_clock;

  struct Answer {
    std::string batch_id;
    std::string body;           // {"accepted":A,"duplicates":D,"rejected":[...]}
    bool was_in_flight = true;  // false: a second answer, to a resend of an answered batch
  };

  AcknowledgedSender(zmq::context_t& context, const std::string& endpoint,
                     std::chrono::milliseconds resend_after = std::chrono::seconds(1));

  // Sends the batch; it is in flight until answered. Sending an id already
  // in flight sends it again.
  void send(const std::string& batch_id, std::string payload);
  // The next answer. Until it comes, a batch in flight is sent again each
  // time `resend_after` passes without its answer; nullopt if none came by
  // `deadline`.
  std::optional<Answer> next_answer(Clock::time_point deadline);
  // Connects a new DEALER to `endpoint` (a restarted daemon) and sends every
  // batch in flight again; answers owed to the old connection are lost.
  void reconnect(const std::string& endpoint);

  std::size_t in_flight() const noexcept { return in_flight_.size(); }
  bool is_in_flight(const std::string& batch_id) const { return in_flight_.count(batch_id) > 0; }
  std::uint64_t resends() const noexcept { return resends_; }

 private:
  struct Batch {
    std::string payload;
    Clock::time_point sent;  // the last time it went
  };
  void send_frames(const std::string& batch_id, Batch& batch);

  zmq::context_t& context_;
  std::chrono::milliseconds resend_after_;
  std::optional<zmq::socket_t> dealer_;
  std::map<std::string, Batch> in_flight_;
  std::uint64_t resends_ = 0;
};

// One batch on a connection of its own, sent until answered: the answer's
// body. Fails the test and throws if none comes within `timeout`.
std::string submit_until_answered(zmq::context_t& context, const std::string& endpoint,
                                  const std::string& batch_id, const std::string& payload,
                                  std::chrono::milliseconds timeout = std::chrono::minutes(1));

}  // namespace tally::testing
