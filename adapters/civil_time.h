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
// A TimeZone says how local civil time maps to UTC: UTC itself, or an IANA
// zone from the system database (/usr/share/zoneinfo, or $TZDIR). GCC 12's
// libstdc++ has no std::chrono::locate_zone, so a named zone goes through the
// C library: the process's TZ is set to it once, and mktime converts. Hence
// at most one named zone per process (a second, different one is refused),
// set before any thread uses local time. A local time in a spring-forward gap
// is read as standard time; one in the repeated fall-back hour is read as the
// C library picks (glibc: the first, daylight-saving, occurrence).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally::adapters {

// Days since 1970-01-01 of a proleptic Gregorian date (any year).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept;
bool valid_date(std::int64_t year, unsigned month, unsigned day) noexcept;

// Appends epoch_ms in [stream::kEarliestTimeMs, stream::kLatestTimeMs] as
// stream::format_rfc3339_ms writes it ("2020-10-13T14:45:00Z", ".250" when
// there are milliseconds), without printf: the adapters' hot path.
void append_rfc3339_ms(std::string& out, std::int64_t epoch_ms);

class TimeZone {
 public:
  TimeZone() = default;  // UTC
  // "UTC", "Etc/UTC", "Z" or an IANA name; nullopt with `error` set if the
  // zone is not in the database or another named zone is already in use.
  static std::optional<TimeZone> named(const std::string& name, std::string& error);
  bool is_utc() const noexcept { return name_.empty(); }
  const std::string& name() const noexcept { return name_; }  // empty for UTC
  // Local civil time (already validated) to epoch milliseconds.
  std::int64_t to_epoch_ms(std::int64_t year, unsigned month, unsigned day, unsigned hour,
                           unsigned minute, unsigned second, unsigned millisecond) const;

 private:
  std::string name_;
};

class TimeFormat {
 public:
  // nullopt with `error` set for a pattern it cannot use (unknown %x, %p
  // without %I, no date).
  static std::optional<TimeFormat> parse(std::string_view format, std::string& error);

  // The instant `text` names in `zone` (zones do not apply to rfc3339 and
  // epoch formats, which say their own). nullopt with `error` saying why.
  std::optional<std::int64_t> read(std::string_view text, const TimeZone& zone,
                                   std::string& error) const;
  const std::string& text() const noexcept { return format_; }

 private:
  enum class Kind { kPattern, kRfc3339, kEpochMs, kEpochS };
  Kind kind_ = Kind::kRfc3339;
  std::string format_;
};

}  // namespace tally::adapters
