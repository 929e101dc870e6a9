// Times as source exports write them, turned into epoch milliseconds.
//
// A TimeFormat is "rfc3339", "epoch_ms", "epoch_s", or a pattern in the
// spirit of strptime:
//   %Y  four-digit year            %m  month 1-12       %d  day 1-31
//   %H  hour 0-23                  %I  hour 1-12 (00 is read as 12, as some
//   %M  minute 0-59                    exports write midnight "00:29A")
//   %S  second 0-59                %p  A, P, AM or PM (any case), with %I
//   %f  fraction of a second       %%  a literal %
//   a space matches one or more spaces; any other character matches itself.
// One or two digits are accepted for every numeric field but %Y. A date that
// does not exist (11/31/2020, 02/29/2021) is refused, not rolled over.
//
// A pattern reads local civil time in a TimeZone (time_zone.h); rfc3339 and
// the epoch formats say their own offset.
//
// Thread-safety: an immutable value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/time_zone.h"
#include "core/status.h"

namespace tally::adapters {

class TimeFormat {
 public:
  TimeFormat() = default;  // rfc3339
  // Refuses (kInvalidArgument) a pattern it cannot use: an unknown %x, %p
  // without %I, no date.
  static Result<TimeFormat> parse(std::string_view format);

  // The instant `text` names, in epoch milliseconds, reading local times in
  // `zone` (zones do not apply to rfc3339 and epoch formats, which say their
  // own). kInvalidArgument saying why the text is not such a time.
  Result<std::int64_t> read(std::string_view text, const TimeZone& zone) const;
  const std::string& text() const noexcept { return format_; }

 private:
  enum class Kind { kPattern, kRfc3339, kEpochMs, kEpochS };
  Kind kind_ = Kind::kRfc3339;
  std::string format_ = "rfc3339";
};

}  // namespace tally::adapters
