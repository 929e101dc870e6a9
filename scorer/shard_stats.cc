#include "scorer/shard_stats.h"

#include <algorithm>

namespace tally::scorer {

void LatencyHistogram::record(std::int64_t nanoseconds) noexcept {
  const double seconds = static_cast<double>(nanoseconds) * 1e-9;
  const auto bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
  ++counts[static_cast<std::size_t>(bucket)];
  sum_seconds += seconds;
}

std::uint64_t LatencyHistogram::total() const noexcept {
  std::uint64_t total = 0;
  for (auto count : counts) total += count;
  return total;
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  sum_seconds += other.sum_seconds;
}

namespace {

void add_counts(std::vector<std::pair<std::string, std::uint64_t>>& into,
                const std::vector<std::pair<std::string, std::uint64_t>>& from) {
  for (const auto& added : from) {
    const auto it = std::find_if(into.begin(), into.end(),
                                 [&](const auto& entry) { return entry.first == added.first; });
    if (it == into.end()) {
      into.push_back(added);
    } else {
      it->second += added.second;
    }
  }
}

}  // namespace

void accumulate(ShardStats& into, const ShardStats& from) {
  into.applied += from.applied;
  into.accepted += from.accepted;
  into.duplicates += from.duplicates;
  into.revokes += from.revokes;
  into.subjects += from.subjects;
  into.memory_bytes += from.memory_bytes;
  into.queue_depth += from.queue_depth;
  into.purged_subjects += from.purged_subjects;
  into.busy_seconds += from.busy_seconds;
  into.expiry_alerts += from.expiry_alerts;
  into.recovered += from.recovered;
  into.journal_records += from.journal_records;
  into.journal_bytes += from.journal_bytes;
  into.journal_syncs += from.journal_syncs;
  into.journal_errors += from.journal_errors;
  into.journal_pending_bytes += from.journal_pending_bytes;
  add_counts(into.hits_by_type, from.hits_by_type);
  add_counts(into.tier_changes, from.tier_changes);
  into.latency.merge(from.latency);
}

}  // namespace tally::scorer
