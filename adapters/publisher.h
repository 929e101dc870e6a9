// Publishes NDJSON events to tallyd, batched, over the brief's wire contract.
//
// Fire-and-forget: a PUSH socket, one NDJSON payload per message.
// Acknowledged: a DEALER socket sending [batch id, payload]; a batch that
// hears no answer within ack_timeout is sent again (event ids make that safe),
// at most max_attempts times; at most max_in_flight batches wait at once.
// finish() reports what was acknowledged, so a caller's exit code can say
// whether everything it sent arrived.
//
// Thread-safety: one Publisher per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace tally::adapters {

struct PublisherOptions {
  // tallyd's ingest (PULL, fire-and-forget) or submit (ROUTER, acknowledged) endpoint.
  std::string endpoint = "tcp://127.0.0.1:7001";
  // Use the acknowledged protocol (DEALER) instead of PUSH. Default off.
  bool acknowledged = false;
  // A batch is sent when it holds this many events (1 = one event a message)...
  std::size_t batch_max_events = 1000;
  // ...or this many bytes, whichever comes first. Default 1 MiB.
  std::size_t batch_max_bytes = 1 << 20;
  // Acknowledged mode: resend a batch not answered within this. Default 2 s.
  std::chrono::milliseconds ack_timeout{2000};
  // Acknowledged mode: batches sent but not yet answered. Default 8.
  std::size_t max_in_flight = 8;
  // Acknowledged mode: sends of one batch before giving up on it. Default 10.
  int max_attempts = 10;
  // ZeroMQ send high-water mark, in messages. Default 1000.
  int send_high_water_mark = 1000;
};

struct PublishSummary {
  std::uint64_t events = 0;  // lines handed to add()
  std::uint64_t batches = 0;
  std::uint64_t accepted = 0;    // acknowledged mode only
  std::uint64_t duplicates = 0;  // acknowledged mode only
  std::uint64_t resends = 0;
  std::uint64_t unacknowledged_batches = 0;       // gave up after max_attempts
  std::map<std::string, std::uint64_t> rejected;  // by reason
  std::uint64_t rejected_total() const;
  bool complete() const { return unacknowledged_batches == 0; }
};

class Publisher {
 public:
  Publisher(zmq::context_t& context, PublisherOptions options);
  ~Publisher();

  // Adds one NDJSON line (without its newline). Blank lines are skipped.
  void add(std::string_view line);
  // Sends the batch being built, if any.
  void flush();
  // Flushes and, in acknowledged mode, waits for every answer (resending as
  // needed). Returns the summary.
  PublishSummary finish();

 private:
  struct InFlight;
  void send_batch(std::string payload);
  void transmit(const std::string& batch_id, const std::string& payload);
  // Receives answers for up to `wait`; resends batches past their timeout.
  void pump(std::chrono::milliseconds wait);
  void record_answer(std::string_view body);

  PublisherOptions options_;
  zmq::socket_t socket_;
  std::string batch_;
  std::size_t batch_events_ = 0;
  std::string batch_prefix_;
  std::uint64_t next_batch_ = 0;
  std::map<std::string, InFlight> in_flight_;
  PublishSummary summary_;
};

}  // namespace tally::adapters
