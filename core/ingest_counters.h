// What the ingest thread counts. Its own header so that readers (the scorer's
// stats answer, the metrics exporter) need not see ZeroMQ.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/reject_reason.h"

namespace tally {

// Connections a listening socket accepted and lost (stream/peer_watch.h).
struct ConnectionCounts {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> closed{0};
};

// Written only by the ingest thread (relaxed single-writer updates, so no
// contended read-modify-write); read by the metrics collector and `stats`.
struct IngestCounters {
  std::atomic<std::uint64_t> messages{0};     // ZeroMQ messages with a batch
  std::atomic<std::uint64_t> received{0};     // non-blank lines
  std::atomic<std::uint64_t> routed{0};       // events handed to workers
  std::atomic<std::uint64_t> bad_batches{0};  // acknowledged batches with bad framing
  std::atomic<std::uint64_t> acks_sent{0};
  // Rejected lines counted but not written to the dead-letter file (its
  // byte budget: stream/rejected_log.h).
  std::atomic<std::uint64_t> rejects_unwritten{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasonCount> rejected{};
  // Producers' connections to the ingest (PULL) and submit (ROUTER) sockets;
  // a message over --max-message-bytes shows as a close.
  ConnectionCounts ingest_connections;
  ConnectionCounts submit_connections;
};

}  // namespace tally
