#include "adapters/record_issue.h"

namespace tally::adapters {

std::string_view record_issue_name(RecordIssue issue) noexcept {
  switch (issue) {
    case RecordIssue::kNone:
      return "none";
    case RecordIssue::kCsvBadQuote:
      return "csv_bad_quote";
    case RecordIssue::kCsvUnterminated:
      return "csv_unterminated";
    case RecordIssue::kCsvColumnCount:
      return "csv_column_count";
    case RecordIssue::kMalformedJson:
      return "malformed_json";
    case RecordIssue::kNotAnObject:
      return "not_an_object";
    case RecordIssue::kMissingField:
      return "missing_field";
    case RecordIssue::kBadTime:
      return "bad_time";
    case RecordIssue::kUnmappedType:
      return "unmapped_type";
    case RecordIssue::kBadSpeed:
      return "bad_speed";
    case RecordIssue::kUnknownDecision:
      return "unknown_decision";
    case RecordIssue::kOversized:
      return "oversized";
    case RecordIssue::kBelowSpeedBands:
      return "below_speed_bands";
    case RecordIssue::kNotADecision:
      return "not_a_decision";
  }
  return "unknown";
}

bool is_skip(RecordIssue issue) noexcept {
  return issue == RecordIssue::kBelowSpeedBands || issue == RecordIssue::kNotADecision;
}

}  // namespace tally::adapters
