// tallyd's reader of the replicated log: one durable pull consumer per
// partition this node owns, feeding each message (an NDJSON batch of one
// partition, published by client/jetstream_publisher.h) through the same
// decode -> route -> worker path as the ZeroMQ ingest, and acknowledging it
// to JetStream only once its events are journaled by the rules of --fsync:
// the moment an acknowledged ZeroMQ batch is answered (a BatchTicket per
// message, handed back by the workers).
//
// Consumers: named tally_<node>_p<partition>, filter <stream>.events.<p>,
// explicit acks, deliver all. Each node has its own, so replicas each read
// every message of their partitions. A restart resumes from the consumer's
// ack floor (anything delivered and not acknowledged is delivered again:
// harmless, event ids dedup). A node whose data directory is empty starts
// with rebuild set: its consumers are made anew from the first message, so
// it rebuilds its partitions from the stream alone.
//
// Owns: the NATS connection, the subscriptions, the decoder, the dead-letter
// file (channel "jetstream"), every message from its fetch until it is
// acknowledged, and the counters (IngestCounters like the ZeroMQ ingest's,
// plus acked, redeliveries, and each partition's lag, refreshed every 2 s).
//
// Thread-safety: run() on one thread (the ingest thread, which then runs
// nothing else); counters may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ingest_counters.h"
#include "core/jetstream_counters.h"
#include "core/key_groups.h"
#include "core/partitions.h"
#include "core/status.h"
#include "core/work_queue.h"
#include "stream/batch_router.h"
#include "stream/event_decoder.h"
#include "stream/rejected_log.h"

namespace tally::nats {
class Connection;
}

namespace tally::stream {

struct JetStreamOptions {
  // NATS servers; empty: no JetStream (tallyd takes events over ZeroMQ).
  std::vector<std::string> urls;
  // The stream made by `tally cluster init`. Default "TALLY".
  std::string stream = kDefaultStream;
  // Partitions this node owns: "all" or a set such as "0-31,40". Default all.
  std::string partitions = "all";
  // This node's name, unique in the cluster: its consumers carry it.
  // Default: the host name.
  std::string node;
  // Messages fetched from one partition at a time. Default 64.
  int fetch_batch = 64;
  // Messages handed to the workers and not yet acknowledged, at most. Default 256.
  std::size_t max_in_flight = 256;
  // JetStream delivers a message again if it is not acknowledged within
  // this. Default 60 s.
  std::chrono::seconds ack_wait{60};
  // How long start() keeps retrying a consumer the servers cannot make or
  // bind yet (a restarted server's stream or consumer group still electing
  // its leader). Default 30 s.
  std::chrono::seconds start_patience{30};
  // The dead-letter file (rejected_log.h); the daemon sets its path.
  RejectsOptions rejects;
  DecoderOptions decoder;

  bool enabled() const noexcept { return !urls.empty(); }
};

class JetStreamSource {
 public:
  // Wiring as IngestServer's (stream/ingest_server.h): `producer` is this
  // thread's row in `queues`; the engine owns the rest and outlives this.
  // Connects, reads the stream's partition count and checks --partitions;
  // the consumers are made by start(). Fails: no server, no stream, a bad set.
  static Result<std::unique_ptr<JetStreamSource>> open(
      JetStreamOptions options, QueueMatrix& queues, std::uint32_t producer, KeyGroupMap& groups,
      const std::atomic<const EventTypeResolver*>& types, std::atomic<std::int64_t>& event_clock,
      std::vector<TicketQueue*> done_tickets, RefusalBox* refusals = nullptr);
  ~JetStreamSource();
  JetStreamSource(const JetStreamSource&) = delete;
  JetStreamSource& operator=(const JetStreamSource&) = delete;

  // Makes (or finds) this node's consumers and subscribes. With `rebuild`,
  // existing consumers are deleted first, so every message is read again.
  // Errors other than not_found are retried for options.start_patience.
  Status start(bool rebuild);
  // Runs until `stop`; then fetches nothing more and acknowledges what the
  // workers finish (waiting at most 30 s; the rest is delivered again later).
  void run(const std::atomic<bool>& stop);

  const IngestCounters& counters() const noexcept { return counters_; }
  const JetStreamCounters& jetstream_counters() const noexcept { return *jetstream_counters_; }
  // As IngestServer::record_late_refusals.
  void record_late_refusals() { router_->record_late_refusals(); }
  const PartitionSet& partitions() const noexcept { return owned_; }
  const JetStreamOptions& options() const noexcept { return options_; }
  std::string describe() const;  // "stream TALLY partitions 0-63 of 64 as node a, from URL"

 private:
  struct Partition;
  struct InFlight;
  JetStreamSource(JetStreamOptions options, std::unique_ptr<nats::Connection> connection,
                  PartitionSet owned, QueueMatrix& queues, std::uint32_t producer,
                  KeyGroupMap& groups, const std::atomic<const EventTypeResolver*>& types,
                  std::atomic<std::int64_t>& event_clock, std::vector<TicketQueue*> done_tickets,
                  RefusalBox* refusals);
  static constexpr std::chrono::milliseconds kStartRetryPause{250};
  Status bind_partition(std::uint32_t partition, bool rebuild);
  std::size_t fetch(Partition& partition, int max_messages);
  void take(Partition& partition, void* message);  // a natsMsg*
  void drain_done_tickets();
  void finish(BatchTicket& ticket);
  void refresh_lag();

  JetStreamOptions options_;
  std::unique_ptr<nats::Connection> connection_;
  PartitionSet owned_;
  std::vector<Partition> subscriptions_;
  std::unique_ptr<BatchRouter> router_;
  EventDecoder decoder_;
  std::unique_ptr<RejectedLog> rejected_log_;
  const std::atomic<const EventTypeResolver*>& types_;
  std::atomic<std::int64_t>& event_clock_;
  IngestCounters counters_;
  std::unique_ptr<JetStreamCounters> jetstream_counters_;
  // Each message from its fetch until acknowledged, by its batch's ticket.
  std::unordered_map<const BatchTicket*, std::unique_ptr<InFlight>> in_flight_;
  std::chrono::steady_clock::time_point lag_refreshed_{};
};

}  // namespace tally::stream
