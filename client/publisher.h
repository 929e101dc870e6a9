// Publishes NDJSON events to tallyd, batched, over the brief's wire contract.
//
// Fire-and-forget: a PUSH socket, one NDJSON payload per message. Nothing
// comes back, so the summary can only say what was handed to ZeroMQ.
//
// Acknowledged: a DEALER socket sending [batch id, payload]; tallyd answers
// [batch id, {"accepted":A,"duplicates":D,"rejected":[{"line":L,"reason":R}]}]
// once the batch is durable. A batch that hears no answer within ack_timeout
// is sent again (event ids make that safe), at most max_attempts times; at
// most max_in_flight batches wait at once. Rejected lines are mapped back to
// the caller's input line numbers (the count of add() calls, from 1).
//
// Both modes connect with ZMQ_IMMEDIATE, so a message is only queued to a
// live connection: with no tallyd listening, a send waits at most
// send_timeout and the publisher fails with a message saying so, rather than
// queueing into the void and reporting success.
//
// finish() reports what was acknowledged, so a caller's exit code can say
// whether everything it sent arrived.
//
// Batching: a batch is sent when it holds batch_max_events, when the next
// line would take it past batch_max_bytes, or (for slow live feeds) when its
// first line has waited batch_max_delay; the delay is checked by add() and by
// poll(), which a caller with no input at hand should call now and then.
// Rate limit: with max_events_per_second set, add() sleeps as needed so that
// lines enter batches no faster than that (a token bucket of one second's
// worth), which paces the sends too.
// Reconnects: ZeroMQ reconnects on its own; a batch caught by a dropped
// connection hears no answer and is resent, so a tallyd restart costs resends,
// not events.
//
// Cost: add() appends the line to the batch buffer (one copy, no per-event
// allocation); a batch costs one allocation and one ZeroMQ send.
//
// Signals: sends never block, and waits go through poll_sockets
// (core/zmq_poll.h), so a signal can only cut a wait short, never throw; a
// caller's loop (finish(), or its own around poll()) then carries on or stops.
//
// Thread-safety: none; one Publisher per thread (each has its own socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "api/endpoints.h"
#include "security/curve_client.h"

namespace simdjson::dom {
class parser;
}

namespace tally::client {

struct PublisherOptions {
  // tallyd's ingest (PULL, fire-and-forget) or submit (ROUTER, acknowledged) endpoint.
  std::string endpoint = api::kDefaultIngestEndpoint;
  // Use the acknowledged protocol (DEALER) instead of PUSH. Default off.
  bool acknowledged = false;
  // A batch is sent when it holds this many events (1 = one event a message)...
  std::size_t batch_max_events = 1000;
  // ...or when the next line would take it past this many bytes, whichever
  // comes first. A single longer line goes alone. Default 1 MiB.
  std::size_t batch_max_bytes = 1 << 20;
  // ...or when its first line has waited this long (checked by add() and
  // poll()). Zero: no time limit. Default 0; live feeds want ~100-500 ms.
  std::chrono::milliseconds batch_max_delay{0};
  // At most this many events per second enter batches (add() sleeps to keep
  // to it). Zero: unlimited. Default 0.
  double max_events_per_second = 0;
  // Acknowledged mode: resend a batch not answered within this. Default 2 s.
  std::chrono::milliseconds ack_timeout{2000};
  // Acknowledged mode: batches sent but not yet answered. Default 8.
  std::size_t max_in_flight = 8;
  // Acknowledged mode: sends of one batch before giving up on it. Default 10.
  int max_attempts = 10;
  // Longest a message may wait for ZeroMQ to take it: no connection to the
  // endpoint, or tallyd not reading (high-water mark full). Past it the
  // publisher fails (PublishSummary::failure). Negative: wait forever.
  // Default 30 s.
  std::chrono::milliseconds send_timeout{30000};
  // ZeroMQ send high-water mark, in messages. Default 1000.
  int send_high_water_mark = 1000;
  // Acknowledged mode: rejected lines kept with their input line number
  // (every rejection is counted by reason regardless). Default 1000.
  std::size_t max_rejected_lines = 1000;
  // tallyd --auth: this client's CURVE credentials. Null: a plain socket.
  std::shared_ptr<const security::CurveCredentials> curve;
};

struct RejectedLine {
  std::uint64_t input_line = 0;  // add() call that carried it, from 1
  std::string reason;            // tallyd's reason, e.g. "bad_time"
};

struct PublishSummary {
  std::uint64_t events = 0;       // non-blank lines handed to add()
  std::uint64_t events_sent = 0;  // of those, in batches ZeroMQ took
  std::uint64_t batches = 0;      // batches made (each counted once, not per resend)
  std::uint64_t resends = 0;      // acknowledged mode: extra sends after a timeout
  // Acknowledged mode: what tallyd's answers said.
  std::uint64_t acknowledged_batches = 0;
  std::uint64_t acknowledged_events = 0;  // events in those batches
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::map<std::string, std::uint64_t, std::less<>>
      rejected;                              // by reason; a refused batch counts its events
  std::vector<RejectedLine> rejected_lines;  // the first max_rejected_lines, answer order
  // Acknowledged mode: batches given up (no answer after max_attempts, or
  // never sent because the publisher failed), and the events in them.
  std::uint64_t unacknowledged_batches = 0;
  std::uint64_t unacknowledged_events = 0;
  // Why publishing stopped early (a send waited past send_timeout); empty if it did not.
  std::string failure;

  std::uint64_t rejected_total() const;
  // Everything handed to ZeroMQ (fire-and-forget) or acknowledged.
  bool complete() const { return failure.empty() && unacknowledged_batches == 0; }
};

class Publisher {
 public:
  // Connects; throws zmq::error_t for an endpoint ZeroMQ cannot parse.
  Publisher(zmq::context_t& context, PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Adds one NDJSON line; a trailing "\n" or "\r\n" is dropped, the line must
  // hold no other newline. Blank lines are skipped but still counted as input
  // lines. Returns false once the publisher has failed (see failure()); the
  // line is then dropped.
  bool add(std::string_view line);
  // Sends the batch being built, if any. False once the publisher has failed.
  bool flush();
  // For a caller waiting for input: sends the batch being built if it is past
  // batch_max_delay, and (acknowledged mode) takes answers and resends what is
  // due, waiting at most `wait` for answers. False once the publisher has failed.
  bool poll(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // Batches sent and not yet answered (acknowledged mode).
  std::size_t in_flight() const noexcept { return in_flight_.size(); }
  // Flushes and, in acknowledged mode, waits for every answer (resending as
  // needed). Returns the summary. Call once, last.
  PublishSummary finish();

  // Empty unless publishing failed; then says why.
  const std::string& failure() const noexcept { return summary_.failure; }
  const PublishSummary& summary() const noexcept { return summary_; }

 private:
  struct InFlight;
  using InFlightMap = std::map<std::string, InFlight, std::less<>>;  // by batch id
  void send_fire_and_forget();
  void send_acknowledged(std::string payload);
  // Hands one batch to ZeroMQ without waiting; false if it cannot take it now.
  bool transmit(const std::string& batch_id, const std::string& payload);
  // Receives answers for up to `wait`; resends batches past their timeout.
  void pump(std::chrono::milliseconds wait);
  void resend_due(std::chrono::steady_clock::time_point now);
  void record_answer(const InFlight& batch, std::string_view body);
  std::uint64_t input_line_of(const InFlight& batch, std::uint64_t batch_line) const;
  void fail(std::string why);
  void give_up(InFlightMap::iterator batch);
  void pace();  // the rate limit: sleeps until one more event may go

  std::chrono::steady_clock::time_point batch_started_;  // first line of batch_ added
  double tokens_ = 0;                                    // rate limit: events that may go now
  std::chrono::steady_clock::time_point tokens_at_;      // when tokens_ was last topped up

  PublisherOptions options_;
  zmq::socket_t socket_;
  std::unique_ptr<simdjson::dom::parser> parser_;  // acknowledged mode: reads answers

  // The batch being built.
  std::string batch_;
  std::size_t batch_events_ = 0;
  std::uint64_t batch_first_input_ = 0;
  std::uint64_t last_input_ = 0;  // input line of the last line added to batch_
  // (line in batch, input line) wherever blank input lines break the run.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> batch_jumps_;
  std::uint64_t input_lines_ = 0;  // add() calls so far

  std::string batch_prefix_;  // "<pid>-<start ms>-": unique across processes and runs
  std::uint64_t next_batch_ = 0;
  InFlightMap in_flight_;
  PublishSummary summary_;
};

}  // namespace tally::client
