// The ingest thread: receives NDJSON batches on the PULL socket (fire and
// forget) and the ROUTER socket (acknowledged batches), decodes them in place,
// and routes each event by subject to its worker's queue.
//
// Owns: both sockets, the decoder (one simdjson parser), the dead-letter file,
// and per-worker staging buffers so that events reach a queue in bulk (one
// release-store per chunk, not per event).
//
// Guarantees: a full worker queue blocks this thread (and ZeroMQ's high-water
// mark then pushes back on senders); nothing accepted is dropped. Every
// refused line is counted by reason and written to the dead-letter file. An
// acknowledged batch is answered once every worker that got one of its events
// has applied them (and, once a journal exists, made them durable).
//
// Thread-safety: run() on one thread; counters() may be read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "stream/event_decoder.h"
#include "stream/ingest_counters.h"
#include "stream/key_groups.h"
#include "stream/reject_reason.h"
#include "stream/rejected_log.h"
#include "stream/work_queue.h"

namespace tally::stream {

struct IngestOptions {
  // Fire-and-forget ingest (clients PUSH). Default from the brief.
  std::string ingest_bind = "tcp://127.0.0.1:7001";
  // Acknowledged batches (clients DEALER). Default from the brief.
  std::string submit_bind = "tcp://127.0.0.1:7002";
  // Dead-letter file; default "<data dir>/rejected.ndjson", set by the daemon.
  std::string rejected_path = "rejected.ndjson";
  // Messages ZeroMQ queues per socket before pushing back on senders.
  int receive_high_water_mark = 1000;
  DecoderOptions decoder;
};

class IngestServer {
 public:
  // `producer` is this thread's row in `queues`. `types`, `event_clock` and
  // `done_tickets` (one per worker) are owned by the engine and outlive this
  // server; `types` is re-read once per batch, so a rules reload applies from
  // the next batch on.
  IngestServer(IngestOptions options, zmq::context_t& context, QueueMatrix& queues,
               std::uint32_t producer, const KeyGroupMap& groups,
               const std::atomic<const EventTypeResolver*>& types,
               std::atomic<std::int64_t>& event_clock, std::vector<TicketQueue*> done_tickets);
  ~IngestServer();

  // Binds both sockets; throws zmq::error_t naming the endpoint on failure.
  void bind();
  // The endpoints actually bound (port 0 / "*" resolved).
  const std::string& ingest_endpoint() const noexcept { return ingest_endpoint_; }
  const std::string& submit_endpoint() const noexcept { return submit_endpoint_; }

  // Runs until `stop` is set; then stops receiving, and answers every
  // acknowledged batch already taken once the workers have applied it.
  void run(const std::atomic<bool>& stop);

  const IngestCounters& counters() const noexcept { return counters_; }

 private:
  class Router;
  void handle_pull_message(zmq::message_t& payload);
  void handle_submit_message(std::vector<zmq::message_t>& frames);
  void answer(BatchTicket& ticket);
  void drain_done_tickets();
  void flush_rejected();

  IngestOptions options_;
  zmq::socket_t pull_;
  zmq::socket_t submit_;
  std::string ingest_endpoint_;
  std::string submit_endpoint_;
  std::vector<TicketQueue*> done_;  // one per worker: finished tickets come back here
  std::unique_ptr<Router> router_;
  EventDecoder decoder_;
  RejectedLog rejected_log_;
  const std::atomic<const EventTypeResolver*>& types_;
  std::atomic<std::int64_t>& event_clock_;
  IngestCounters counters_;
  std::size_t tickets_outstanding_ = 0;
};

}  // namespace tally::stream
