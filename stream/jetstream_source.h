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
// ack floor: a consumer that still has messages delivered and not
// acknowledged (the node stopped with them in flight) is made again to
// deliver from its ack floor on, in stream order, because JetStream would
// otherwise redeliver them only after ack_wait, behind newer messages, and
// so perhaps behind a rules message (redelivered events are harmless: event
// ids dedup). A node whose data directory is empty starts
// with rebuild set: its consumers are made anew from the first message, so
// it rebuilds its partitions from the stream alone.
//
// Rules through the log (core/rules_message.h; docs/cluster.md). Rules are
// not retroactive (an event keeps the points of the rules it was decoded
// with), so replicas agree only if they switch at the same point of every
// partition. A rules message in partition p is a barrier: once it is taken,
// nothing more of p is decoded (messages fetched after it wait, held, and p
// is not fetched) until every partition this node owns has reached a rules
// message. Then, in this order:
//   (a) every message decoded before the barrier is journaled (in_flight_
//       empty, all acknowledged) and the acks have reached the server (a
//       flush), so nothing decoded by the old rules is ever decoded again
//       by the new ones;
//   (b) the installer (set_rules_installer; the daemon's) validates the
//       rules, writes them to the data directory as the rules in force, and
//       makes them the decoder's and the engine's;
//   (c) the rules messages are acknowledged and the partitions resume.
// A crash anywhere is safe. Before (b) ends: the node restarts with the old
// rules in force; every rules message is unacknowledged, so it comes again
// and the switch happens again at the same point; messages of (a) whose acks
// were lost come again and are duplicates (their events are journaled), the
// journal keeps their old points. After (b), before (c): the node restarts
// with the new rules in force (the file); the rules messages come again and
// equal the rules in force, so they are acknowledged and nothing else
// happens; nothing after them was decoded. Messages delivered and not
// acknowledged when the node died come back in stream order (the consumer
// is made again from its ack floor, above), so before the rules message
// they belong before. A rules message whose version
// equals the rules in force, with no switch waiting, is acknowledged at once.
// If the partitions' rules messages differ (a publish that failed part-way,
// then another file published), or the installer refuses the rules (a file
// this tallyd cannot read), the node keeps its rules, stops decoding the
// partitions held at a rules message (a damaged one holds its own; a
// refusal or a disagreement happens with every partition at its barrier,
// so all are held), since decoding past it would diverge from the replicas,
// logs it and counts it (rules_refused, rules_stuck); `tally cluster
// rules` with the intended file, then a restart, resolves it.
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
#include <deque>
#include <functional>
#include <memory>
#include <optional>
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
  // Installs rules that came through the log: validates `toml_text`, keeps
  // it in the data directory as the rules in force, and makes it the
  // rules every batch is decoded with from now on (called on this source's
  // thread, with nothing in flight). A refusal leaves the rules in force.
  using RulesInstaller =
      std::function<Status(std::string_view toml_text, std::string_view version)>;
  // `version_in_force`: core/rules_message.h rules_version() of the rules
  // the node starts with. Without an installer, rules messages are counted
  // as refused and hold their partitions (a node must have one).
  void set_rules_installer(RulesInstaller installer, std::string version_in_force);
  const std::string& rules_version_in_force() const noexcept { return version_in_force_; }
  // The log's current rules (<stream>.rules), nullopt if none were published.
  Result<std::optional<std::pair<std::string, std::string>>> log_rules() const;  // {version, text}

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
  // Decodes the partition's held messages, in order, until a rules message
  // makes a barrier or the room in flight runs out. Returns how many it took.
  std::size_t take_held(Partition& partition);
  void take(Partition& partition, void* message);  // a natsMsg*
  // A rules message reached: a no-op, or the partition's barrier.
  void reach_rules(Partition& partition, void* message);  // a natsMsg*, now ours
  // Crosses the barrier once every owned partition is at the same one and
  // nothing is in flight (the order in the header comment).
  void cross_barrier();
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
  RulesInstaller install_rules_;
  std::string version_in_force_;
  std::size_t partitions_at_barrier_ = 0;
  // Per partition: the ack floor its consumer is being made again from (0:
  // not), so that a retried start() still resumes there.
  std::vector<std::uint64_t> resume_after_;
};

}  // namespace tally::stream
