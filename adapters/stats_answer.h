// Reading the totals out of tallyd's {"op":"stats"} answer: what a load
// driver or a test polls to know when the daemon has applied everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tally::adapters {

struct StatsTotals {
  std::uint64_t received = 0;    // lines decoded by ingest
  std::uint64_t accepted = 0;    // applied by the workers
  std::uint64_t duplicates = 0;  // ids seen before
  std::uint64_t rejected = 0;    // refused, every reason
  // Events whose fate is settled: accepted, duplicate or rejected.
  std::uint64_t processed() const { return accepted + duplicates + rejected; }
};

// Reads {"accepted":N,"duplicates":N,"rejected":{reason:N...}|N,
// "rejected_total":N,"received":N,...}. "accepted" and "duplicates" are
// required; rejected is "rejected_total" if present, else the sum of the
// "rejected" object (or its value, if a number). nullopt if the text is not
// such an answer (e.g. an {"error":...}).
std::optional<StatsTotals> parse_stats_totals(std::string_view stats_json);

}  // namespace tally::adapters
