// Publishes NDJSON events into the replicated log (a NATS JetStream stream
// made by `tally cluster init`), batched per partition, and reports only what
// the stream acknowledged.
//
// Partition: each line's `subject` decides it (core/partitions.h: key group
// % P, P read from the stream). A line without a readable subject goes to
// partition 0, where every tallyd that owns it refuses it with its reason
// and writes it to its dead-letter file: nothing sent is lost without trace.
//
// Message id: a batch's Nats-Msg-Id is derived from its partition and its
// events' ids (a hash of them, with their count), so a batch sent again after
// a lost PubAck is dropped by the server within its duplicate window, and
// past it by tallyd's own dedup of event ids.
//
// Acknowledgement: a batch counts as sent only once its PubAck came back
// (a PubAck means the stream's replicas stored it). A batch whose publish
// fails or times out (a server lost, a leader election) is sent again with
// the same message id until it is acknowledged or retry_for has passed.
//
// Cost: add() parses the line's id and subject (simdjson On-Demand, one
// copy into a padded buffer) and appends it to its partition's batch; a
// batch costs one publish and one round trip.
//
// Thread-safety: none; one publisher per thread.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/nats_connection.h"
#include "core/partitions.h"
#include "core/status.h"

namespace tally::client {

struct JetStreamPublisherOptions {
  // NATS servers (any of the cluster's; the client learns the rest).
  std::vector<std::string> urls;
  // The stream made by `tally cluster init`. Default "TALLY".
  std::string stream = kDefaultStream;
  // A partition's batch is published when it holds this many events...
  std::size_t batch_max_events = 1000;
  // ...or when the next line would take it past this many bytes (below the
  // servers' max_payload, 1 MiB by default). Default 512 KiB.
  std::size_t batch_max_bytes = 512 << 10;
  // One publish waits this long for its PubAck. Default 5 s.
  std::chrono::milliseconds ack_timeout{5000};
  // A batch is retried (same message id) for this long before the
  // publisher gives up on it. Default 60 s: a lost server's leaderships
  // move within seconds.
  std::chrono::milliseconds retry_for{60000};
  // Name shown by the NATS servers for this client.
  std::string client_name = "tally-publisher";
};

struct JetStreamPublishSummary {
  std::uint64_t events = 0;               // non-blank lines added
  std::uint64_t batches = 0;              // batches published (each counted once)
  std::uint64_t acknowledged_events = 0;  // in batches the stream acknowledged
  std::uint64_t acknowledged_batches = 0;
  std::uint64_t duplicate_batches = 0;      // acknowledged as already stored (a resend)
  std::uint64_t retries = 0;                // publishes sent again after a failure
  std::uint64_t unacknowledged_events = 0;  // in batches given up
  std::uint64_t unacknowledged_batches = 0;
  std::vector<std::uint64_t> events_per_partition;
  std::string failure;  // why the publisher stopped early; empty if it did not
  bool complete() const {
    return failure.empty() && unacknowledged_batches == 0 && acknowledged_events == events;
  }
};

class JetStreamPublisher {
 public:
  // Connects and reads the stream's partition count. Fails (kNotFound) when
  // the stream does not exist: run `tally cluster init` first.
  static Result<std::unique_ptr<JetStreamPublisher>> open(JetStreamPublisherOptions options);
  ~JetStreamPublisher();
  JetStreamPublisher(const JetStreamPublisher&) = delete;
  JetStreamPublisher& operator=(const JetStreamPublisher&) = delete;

  std::uint32_t partitions() const noexcept { return partitions_; }
  // Adds one NDJSON line (a trailing newline is dropped; blank lines are
  // skipped). May publish a full batch, waiting for its PubAck. Returns
  // false once the publisher has failed (summary().failure says why).
  bool add(std::string_view line);
  // Publishes every partition's batch and waits for their PubAcks.
  bool flush();
  // flush(), then the summary. Call once, last.
  JetStreamPublishSummary finish();
  const JetStreamPublishSummary& summary() const noexcept { return summary_; }

 private:
  struct Batch {
    std::string payload;
    std::size_t events = 0;
    std::uint64_t id_hash = 0;  // over the events' ids, in order
  };
  JetStreamPublisher(JetStreamPublisherOptions options,
                     std::unique_ptr<nats::Connection> connection, std::uint32_t partitions);
  bool publish(std::uint32_t partition);

  JetStreamPublisherOptions options_;
  std::unique_ptr<nats::Connection> connection_;
  std::uint32_t partitions_;
  std::vector<Batch> batches_;  // one per partition
  std::vector<std::string> subjects_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  // the line being parsed, with simdjson's padding
  JetStreamPublishSummary summary_;
};

// The partition count of a stream made by `tally cluster init` (its
// subjects are the partitions'); refused if its subjects are not Tally's.
Result<std::uint32_t> stream_partitions(const jsStreamInfo& info, const std::string& stream);

}  // namespace tally::client
