// A time zone: how local civil time in one place maps to UTC, read from the
// system's zone database (the TZif files of Debian's tzdata package, in
// /usr/share/zoneinfo or $TZDIR), one object per zone. Any number of zones
// may be used at once, from any threads; nothing global changes (no TZ
// variable, no tzset).
//
// TZif (RFC 8536): a header and a table of UTC instants at which the
// zone's offset changed, each with its local time type (offset, daylight
// saving or not); version 2 and later repeat the table with 64-bit instants,
// read here in preference; the footer is a POSIX TZ rule (posix_tz_rule.h)
// for every instant after the table, so that far-future dates follow
// daylight-saving time too. Files with leap seconds (the "right/" zones) are
// refused: their instants are not UTC seconds.
//
// Local to UTC, where the local time is not one instant:
//   - in a gap (spring forward: 02:30 on the day New York goes from 02:00 EST
//     to 03:00 EDT), it is read in the offset before the gap, i.e. as
//     standard time: 02:30 EST, which is 03:30 EDT;
//   - in a repeat (fall back: 01:30 happens twice), it is read in the offset
//     before the change, i.e. the earlier, daylight-saving occurrence.
// One rule for both: the offset in force before the change.
//
// Cost: a named zone is read once (a few kilobytes); a conversion is a binary
// search of its table (extended by its rule through 2100 when it loads;
// later dates compute their year's changes).
//
// Thread-safety: an immutable value; copies share the zone's table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tally::adapters {

class TimeZone {
 public:
  TimeZone() = default;  // UTC

  // "UTC", "Etc/UTC", "Z" or an IANA name ("America/New_York"), from
  // $TZDIR or /usr/share/zoneinfo. kNotFound for a name the database does
  // not hold; kInvalidArgument for a file that is not valid TZif.
  static Result<TimeZone> named(std::string_view name);
  // The zone a TZif file's bytes describe, named `name`.
  static Result<TimeZone> from_tzif(std::string_view name, std::string_view tzif);

  bool is_utc() const noexcept { return zone_ == nullptr; }
  // "UTC" or the IANA name.
  const std::string& name() const noexcept;

  // UTC seconds of a local civil time given as seconds since 1970-01-01T00:00
  // local (days_from_civil * 86400 + seconds into the day); gaps and repeats
  // as above.
  std::int64_t local_to_utc(std::int64_t local_seconds) const noexcept;
  // Seconds east of UTC in force at a UTC instant.
  std::int32_t utc_offset_at(std::int64_t utc_seconds) const noexcept;

  struct Table;  // time_zone.cc

 private:
  explicit TimeZone(std::shared_ptr<const Table> zone) : zone_(std::move(zone)) {}
  std::shared_ptr<const Table> zone_;  // null: UTC
};

}  // namespace tally::adapters
