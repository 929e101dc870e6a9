#include "adapters/stats_answer.h"

#include <simdjson.h>

namespace tally::adapters {

std::optional<StatsTotals> parse_stats_totals(std::string_view stats_json) {
  simdjson::dom::parser parser;
  simdjson::dom::object stats;
  if (parser.parse(stats_json.data(), stats_json.size()).get_object().get(stats) !=
      simdjson::SUCCESS) {
    return std::nullopt;
  }
  StatsTotals totals;
  if (stats["accepted"].get_uint64().get(totals.accepted) != simdjson::SUCCESS ||
      stats["duplicates"].get_uint64().get(totals.duplicates) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  if (stats["received"].get_uint64().get(totals.received) != simdjson::SUCCESS) {
    totals.received = 0;
  }
  if (stats["rejected_total"].get_uint64().get(totals.rejected) == simdjson::SUCCESS) {
    return totals;
  }
  simdjson::dom::object by_reason;
  if (stats["rejected"].get_object().get(by_reason) == simdjson::SUCCESS) {
    for (auto [reason, count] : by_reason) {
      std::uint64_t n = 0;
      if (count.get_uint64().get(n) == simdjson::SUCCESS) totals.rejected += n;
    }
  } else if (stats["rejected"].get_uint64().get(totals.rejected) != simdjson::SUCCESS) {
    totals.rejected = 0;
  }
  return totals;
}

}  // namespace tally::adapters
