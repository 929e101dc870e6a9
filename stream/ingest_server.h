// The ingest thread's server: receives NDJSON batches on the PULL socket
// (fire and forget) and the ROUTER socket (acknowledged batches), decodes
// them in place, and routes each event by subject to its worker's queue.
//
// Wire: a PULL message is one NDJSON payload. An acknowledged batch is
// [batch id (at most 64 bytes), payload] from a DEALER (a REQ's empty
// delimiter is accepted and echoed); the answer is [batch id,
// {"accepted":A,"duplicates":D,"rejected":[{"line":L,"reason":R},...]}].
// Other framing is answered {"error":{"code":"bad_batch","message":...}}
// and counted in bad_batches.
//
// Owns: both sockets, the decoder (one simdjson parser), the dead-letter
// file, per-worker staging buffers so that events reach a queue in bulk (one
// release-store per chunk, not per event), and each acknowledged batch's
// ticket from its arrival until it is answered.
//
// Guarantees: a full worker queue blocks this thread (and ZeroMQ's high-water
// mark then pushes back on senders); nothing accepted is dropped. Every
// refused line is counted by reason and written to the dead-letter file. An
// acknowledged batch is answered only once every worker that got one of its
// events has handed its ticket back, which a worker does once it has applied
// them and, with a journal, made them durable. While blocked on a full queue
// the server still answers finished batches, so a worker waiting to hand a
// ticket back can never deadlock with it.
//
// Thread-safety: run() on one thread (the ingest thread); counters() may be
// read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "api/endpoints.h"
#include "core/ingest_counters.h"
#include "core/key_groups.h"
#include "core/reject_reason.h"
#include "core/work_queue.h"
#include "stream/batch_router.h"
#include "stream/event_decoder.h"
#include "stream/peer_watch.h"
#include "stream/rejected_log.h"

namespace tally::stream {

struct IngestOptions {
  // Fire-and-forget ingest (clients PUSH). Default from the brief.
  std::string ingest_bind = api::kDefaultIngestEndpoint;
  // Acknowledged batches (clients DEALER). Default from the brief.
  std::string submit_bind = api::kDefaultSubmitEndpoint;
  // The dead-letter file (rejected_log.h); the daemon sets its path.
  RejectsOptions rejects;
  // Messages ZeroMQ queues per socket before pushing back on senders.
  int receive_high_water_mark = 1000;
  // The largest message (a batch) taken; ZeroMQ drops the connection of a
  // peer that sends a larger one (ZMQ_MAXMSGSIZE), before tallyd buffers it.
  // Default 64 MiB.
  std::int64_t max_message_bytes = std::int64_t{64} << 20;
  DecoderOptions decoder;
  // tallyd --auth: makes each socket a CURVE server before it binds
  // (`acknowledged`: the submit socket), and says what the sender of a
  // message (its connection's authenticated client) may send. Unset: open
  // sockets, everything allowed.
  std::function<void(zmq::socket_t& socket, bool acknowledged)> secure_socket;
  std::function<SenderRights(const zmq::message_t& message)> rights_of;
};

class IngestServer {
 public:
  // `producer` is this thread's row in `queues` (no other thread may push
  // on it); `groups` maps a subject's key group to its worker. `types`, `event_clock`,
  // `done_tickets` (one per worker) and `refusals` are owned by the engine and
  // outlive this server; `types` is re-read once per batch, so a rules reload
  // applies from the next batch on.
  IngestServer(IngestOptions options, zmq::context_t& context, QueueMatrix& queues,
               std::uint32_t producer, KeyGroupMap& groups,
               const std::atomic<const EventTypeResolver*>& types,
               std::atomic<std::int64_t>& event_clock, std::vector<TicketQueue*> done_tickets,
               RefusalBox* refusals = nullptr);
  ~IngestServer();

  // Binds both sockets; throws std::runtime_error naming the socket and
  // endpoint on failure.
  void bind();
  // The endpoints actually bound (port 0 / "*" resolved).
  const std::string& ingest_endpoint() const noexcept { return ingest_endpoint_; }
  const std::string& submit_endpoint() const noexcept { return submit_endpoint_; }

  // Runs until `stop` is set; then stops receiving, and answers every
  // acknowledged batch already taken as its ticket comes back (waiting at
  // most 30 s for the workers: a client that hears nothing resends).
  void run(const std::atomic<bool>& stop);

  const IngestCounters& counters() const noexcept { return counters_; }

  // After run() has returned and the workers have stopped: records the
  // events they refused meanwhile (BatchRouter::record_late_refusals).
  void record_late_refusals() { router_->record_late_refusals(); }

 private:
  void handle_pull_message(zmq::message_t& payload);
  void handle_submit_message(std::vector<zmq::message_t>& frames);
  void answer(BatchTicket& ticket);
  void drain_done_tickets();
  void flush_rejected();

  IngestOptions options_;
  zmq::socket_t pull_;
  zmq::socket_t submit_;
  PeerWatch pull_peers_;
  PeerWatch submit_peers_;
  std::string ingest_endpoint_;
  std::string submit_endpoint_;
  std::unique_ptr<BatchRouter> router_;
  EventDecoder decoder_;
  RejectedLog rejected_log_;
  const std::atomic<const EventTypeResolver*>& types_;
  std::atomic<std::int64_t>& event_clock_;
  IngestCounters counters_;
  std::size_t tickets_outstanding_ = 0;
};

}  // namespace tally::stream
