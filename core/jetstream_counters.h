// What a cluster node's reader of the replicated log counts
// (stream/jetstream_source.h), beyond the IngestCounters every ingest keeps.
// Its own header so that the metrics exporter and `tally cluster status`
// need not see the source.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace tally {

// Written by the ingest thread only; read by the metrics collector.
struct JetStreamCounters {
  std::atomic<std::uint64_t> acked{0};           // messages acknowledged to JetStream
  std::atomic<std::uint64_t> ack_failures{0};    // acks not sent (redelivered later)
  std::atomic<std::uint64_t> redeliveries{0};    // messages delivered more than once
  std::atomic<std::uint64_t> fetch_errors{0};    // fetches that failed (a server lost)
  std::atomic<std::uint64_t> rules_switches{0};  // rules from the log put in force
  std::atomic<std::uint64_t> rules_refused{0};   // rules messages the node could not use
  // Partitions held at a rules barrier that cannot be crossed (a damaged
  // rules message, partitions at different rules, rules this node refuses).
  std::atomic<bool> rules_stuck{false};
  // Messages of the stream not yet delivered to this node, per partition of
  // P, refreshed every few seconds; -1: not owned, or not known yet.
  std::vector<std::atomic<std::int64_t>> lag;
  explicit JetStreamCounters(std::uint32_t partitions) : lag(partitions) {
    for (auto& value : lag) value.store(-1, std::memory_order_relaxed);
  }
};

}  // namespace tally
