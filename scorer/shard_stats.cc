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

}  // namespace tally::scorer
