// Why a source record did not become an event: the adapters' reasons, each
// with a stable string used in the rejects file, summaries and tests. A
// reject is written to the rejects file; a skip (a reason the mapping names)
// is only counted. docs/adapters.md lists them.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string_view>

namespace tally::adapters {

enum class RecordIssue : std::uint8_t {
  kNone,
  // Rejected: written to the rejects file.
  kCsvBadQuote,      // csv_bad_quote
  kCsvUnterminated,  // csv_unterminated
  kCsvColumnCount,   // csv_column_count: more fields than the header
  kMalformedJson,    // malformed_json
  kNotAnObject,      // not_an_object
  kMissingField,     // missing_field: a template's field absent or empty
  kBadTime,          // bad_time
  kUnmappedType,     // unmapped_type: not in [types]
  kBadSpeed,         // bad_speed: speeds missing or not numbers
  kUnknownDecision,  // unknown_decision
  kOversized,        // oversized: id > 64, subject > 128 or source > 64 bytes
  // Skipped: counted, not written.
  kBelowSpeedBands,  // below_speed_bands
  kNotADecision,     // not_a_decision
};

std::string_view record_issue_name(RecordIssue issue) noexcept;
bool is_skip(RecordIssue issue) noexcept;

}  // namespace tally::adapters
