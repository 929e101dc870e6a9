// Event time on the wire: an RFC 3339 string ("2024-03-01T12:30:00Z",
// "2024-03-01T08:30:00.250-04:00") or an integer of epoch milliseconds.
// Internally always epoch milliseconds, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

// The instants an event may have: those RFC 3339 can write in UTC with its
// four-digit year, 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z. Both
// wire forms are held to this range, so that every accepted time formats
// back to RFC 3339 and round-trips.
inline constexpr std::int64_t kEarliestTimeMs = -62167219200000;
inline constexpr std::int64_t kLatestTimeMs = 253402300799999;

// RFC 3339 date-time (section 5.6): full date, 'T' or 't' or ' ', time with
// optional fraction (digits past milliseconds are truncated), and 'Z' or 'z'
// or +hh:mm / -hh:mm. Leap second 60 is refused, and so is an offset that puts
// the instant outside [kEarliestTimeMs, kLatestTimeMs]. nullopt on anything
// else. Pure arithmetic: no locale, time zone database or system call.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) noexcept;

// Epoch milliseconds -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (fraction omitted when 0),
// correct for negative epochs. Outside [kEarliestTimeMs, kLatestTimeMs] the
// year takes the digits and sign it needs (not RFC 3339, but unambiguous).
std::string format_rfc3339_ms(std::int64_t epoch_ms);

// The same text appended to `out`, without printf or a temporary string (the
// adapters write one per event). Inside [kEarliestTimeMs, kLatestTimeMs];
// outside it, as format_rfc3339_ms.
void append_rfc3339_ms(std::string& out, std::int64_t epoch_ms);

}  // namespace tally
