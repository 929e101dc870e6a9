// Event time on the wire: an RFC 3339 string ("2024-03-01T12:30:00Z",
// "2024-03-01T08:30:00.250-04:00") or an integer of epoch milliseconds.
// Internally always epoch milliseconds, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally::stream {

// RFC 3339 date-time (section 5.6): full date, 'T' or 't' or ' ', time with
// optional fraction (digits past milliseconds are truncated), and 'Z' or
// +hh:mm / -hh:mm. Leap second 60 is refused. nullopt on anything else.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) noexcept;

// Epoch milliseconds -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (fraction omitted when 0).
std::string format_rfc3339_ms(std::int64_t epoch_ms);

}  // namespace tally::stream
