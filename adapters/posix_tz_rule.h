// A POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30"), as the footer
// of a TZif file (RFC 8536 section 3.3) states it: the zone's rule for every
// instant after its last listed transition, so that a date decades ahead
// still follows daylight-saving time.
//
//   rule   := std offset [dst [offset] [,date[/time],date[/time]]]
//   name   := 3+ letters | <letters, digits, + and -, 3+ of them>
//   offset := [+|-]hh[:mm[:ss]]     west of Greenwich is positive (EST5)
//   date   := Jn (1-365, 29 February never counted) | n (0-365) | Mm.w.d
//             (month m, week w 1-5 where 5 is the last, weekday d 0-6, 0 Sunday)
//   time   := [+|-]hh[:mm[:ss]], hours up to 167 (RFC 8536's extension); 02:00 if absent
//
// A dst name with no offset is one hour ahead of standard time; one with no
// dates uses the United States' rule (M3.2.0,M11.1.0), as the C library does.
// Each transition's time is wall-clock time in the offset in force before it
// (standard time for the start of daylight-saving time, daylight time for its
// end).
//
// Thread-safety: a plain value.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace tally::adapters {

// One change of UTC offset: from `at` (UTC seconds) on, `after` applies
// instead of `before` (both in seconds east of UTC).
struct OffsetChange {
  std::int64_t at = 0;
  std::int32_t before = 0;
  std::int32_t after = 0;
};

class PosixTzRule {
 public:
  static Result<PosixTzRule> parse(std::string_view text);

  // Seconds east of UTC in standard time.
  std::int32_t standard_offset() const noexcept { return std_offset_; }
  bool has_daylight_saving() const noexcept { return has_dst_; }
  // With daylight-saving time: its start and end in `year`, in the order
  // they happen (southern zones end it before they start it again).
  std::array<OffsetChange, 2> changes_in(std::int64_t year) const noexcept;

 private:
  struct Date {
    enum class Kind : std::uint8_t { kJulianNoLeap, kDayOfYear, kMonthWeekDay } kind;
    unsigned month = 0, week = 0, weekday = 0;  // kMonthWeekDay
    unsigned day = 0;                           // kJulianNoLeap (1-365), kDayOfYear (0-365)
    std::int32_t time = 7200;                   // seconds after local midnight
  };
  // UTC seconds of `date` in `year`, read in the offset `wall_offset`.
  static std::int64_t instant(const Date& date, std::int64_t year,
                              std::int32_t wall_offset) noexcept;
  struct Reader;

  std::int32_t std_offset_ = 0;
  bool has_dst_ = false;
  std::int32_t dst_offset_ = 0;
  Date start_{Date::Kind::kMonthWeekDay, 3, 2, 0, 0, 7200};
  Date end_{Date::Kind::kMonthWeekDay, 11, 1, 0, 0, 7200};
};

}  // namespace tally::adapters
