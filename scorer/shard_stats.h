// What a shard worker reports about itself. The worker alone writes its
// counters (plain integers, no atomics on the scoring path); a reader gets a
// copy by sending the worker a StatsCommand, so a scrape never races it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tally::scorer {

// Receive-to-applied latency: from the moment the ingest thread received an
// event's batch to the moment its worker applied it.
struct LatencyHistogram {
  // Upper bounds in seconds; dense around the 1 ms objective.
  static constexpr std::array<double, 27> kBounds = {
      5e-6, 1e-5, 2.5e-5, 5e-5, 7.5e-5, 1e-4, 1.5e-4, 2e-4, 3e-4, 5e-4, 7.5e-4, 1e-3, 1.5e-3, 2e-3,
      3e-3, 5e-3, 7.5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,    0.25, 0.5,  1.0,  2.5,    5.0,  10.0};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};  // last: +Inf
  double sum_seconds = 0;

  void record(std::int64_t nanoseconds) noexcept;
  std::uint64_t total() const noexcept;
  void merge(const LatencyHistogram& other) noexcept;
};

struct ShardStats {
  std::uint32_t worker = 0;
  std::uint64_t applied = 0;  // events taken from the queues
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t revokes = 0;  // accepted revoke events
  std::uint64_t subjects = 0;
  std::uint32_t key_groups = 0;        // key groups held
  std::uint64_t held_back_events = 0;  // events waiting for their group's state to arrive
  std::uint64_t memory_bytes = 0;
  std::uint64_t queue_depth = 0;
  std::uint64_t purged_subjects = 0;
  double busy_seconds = 0;          // time spent applying events and commands
  std::uint64_t expiry_alerts = 0;  // tier changes found by the expiry sweep
  // How far (rules' clock, epoch ms) the expiry sweep has looked: the next one
  // covers (this, now]. INT64_MIN before the first sweep.
  std::int64_t expiry_swept_until_ms = 0;
  std::uint64_t recovered = 0;  // records replayed from snapshot and journal at start
  // The journal (all 0 without one).
  std::uint64_t journal_records = 0;
  std::uint64_t journal_bytes = 0;
  std::uint64_t journal_syncs = 0;
  std::uint64_t journal_errors = 0;         // failed writes/syncs (each retry counts)
  std::uint64_t journal_pending_bytes = 0;  // buffered, not yet written
  std::vector<std::pair<std::string, std::uint64_t>> hits_by_type;  // accepted, by rule
  std::vector<std::pair<std::string, std::uint64_t>> tier_changes;  // by tier entered
  LatencyHistogram latency;
};

// Adds `from`'s counts (and gauges) to `into`'s; `into.worker` is kept.
void accumulate(ShardStats& into, const ShardStats& from);

}  // namespace tally::scorer
