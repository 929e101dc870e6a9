// Why an input line was refused. Each reason has a stable name used, unchanged,
// in metrics labels, in rejected.ndjson, and in acknowledged-batch answers;
// outside tools match on these strings, so they never change once shipped.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tally {

enum class RejectReason : std::uint8_t {
  kMalformedJson,  // not one JSON object
  kMissingField,   // a required field (id, subject, type, time) is absent
  kBadField,       // a field has the wrong JSON type, or is empty
  kBadTime,        // `time` is neither RFC 3339 nor integer epoch milliseconds
  kUnknownType,    // no rule for `type`
  kOversized,      // the line, or a field, is longer than its limit
  kBadRevoke,      // a `revoke` without a usable `revokes`, or revoking itself
  kSubjectFull,    // its subject holds --max-events-per-subject events (refused by the worker)
  kForbidden,      // the sender's roles do not allow it (a revoke without `appeals`; --auth)
};

inline constexpr std::size_t kRejectReasonCount = 9;

inline constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "malformed_json", "missing_field", "bad_field",    "bad_time",  "unknown_type",
    "oversized",      "bad_revoke",    "subject_full", "forbidden",
};

constexpr std::string_view to_string(RejectReason reason) noexcept {
  return kRejectReasonNames[static_cast<std::size_t>(reason)];
}

}  // namespace tally
