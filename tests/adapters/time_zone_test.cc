// Time zones read from the system's TZif files (Debian's tzdata): local civil
// time to UTC across both daylight-saving changes, the rule for gaps and
// repeats, zones without daylight-saving time, dates past the files' tables
// (the footer's POSIX rule), refusals, and the offsets checked against the C
// library's own reading of the same files.
#include "adapters/time_zone.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/posix_tz_rule.h"
#include "core/civil_date.h"
#include "core/event_time.h"
#include "tests/support/files.h"

namespace tally::adapters {
namespace {

TimeZone zone(std::string_view name) {
  const auto named = TimeZone::named(name);
  EXPECT_TRUE(named) << named.status().to_string();
  return named ? *named : TimeZone();
}

// "YYYY-MM-DD HH:MM:SS" local in `in` -> RFC 3339 UTC.
std::string utc_of(const TimeZone& in, std::string_view local) {
  const auto number = [&](std::size_t at, std::size_t size) {
    return static_cast<unsigned>(std::stoul(std::string(local.substr(at, size))));
  };
  const std::int64_t year = std::stoll(std::string(local.substr(0, local.size() - 15)));
  const std::size_t t = local.size() - 15;  // where "-MM-DD HH:MM:SS" starts
  const std::int64_t seconds = days_from_civil(year, number(t + 1, 2), number(t + 4, 2)) * 86400 +
                               number(t + 7, 2) * 3600 + number(t + 10, 2) * 60 + number(t + 13, 2);
  return format_rfc3339_ms(in.local_to_utc(seconds) * 1000);
}

std::int64_t epoch_s(std::string_view rfc3339) { return *parse_rfc3339_ms(rfc3339) / 1000; }

TEST(TimeZoneTest, NewYorkAcrossBothChanges) {
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(ny.name(), "America/New_York");
  // 14 March 2021: 02:00 EST becomes 03:00 EDT.
  EXPECT_EQ(utc_of(ny, "2021-03-14 01:59:59"), "2021-03-14T06:59:59Z");
  EXPECT_EQ(utc_of(ny, "2021-03-14 02:00:00"), "2021-03-14T07:00:00Z");  // the gap, as EST
  EXPECT_EQ(utc_of(ny, "2021-03-14 02:30:00"), "2021-03-14T07:30:00Z");
  EXPECT_EQ(utc_of(ny, "2021-03-14 03:00:00"), "2021-03-14T07:00:00Z");
  EXPECT_EQ(utc_of(ny, "2021-07-04 12:00:00"), "2021-07-04T16:00:00Z");
  // 7 November 2021: 02:00 EDT becomes 01:00 EST; 01:xx happens twice.
  EXPECT_EQ(utc_of(ny, "2021-11-07 00:59:59"), "2021-11-07T04:59:59Z");
  EXPECT_EQ(utc_of(ny, "2021-11-07 01:00:00"), "2021-11-07T05:00:00Z");  // the earlier, EDT
  EXPECT_EQ(utc_of(ny, "2021-11-07 01:59:59"), "2021-11-07T05:59:59Z");
  EXPECT_EQ(utc_of(ny, "2021-11-07 02:00:00"), "2021-11-07T07:00:00Z");
  EXPECT_EQ(ny.utc_offset_at(epoch_s("2021-03-14T06:59:59Z")), -5 * 3600);
  EXPECT_EQ(ny.utc_offset_at(epoch_s("2021-03-14T07:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny.utc_offset_at(epoch_s("2021-11-07T05:59:59Z")), -4 * 3600);
  EXPECT_EQ(ny.utc_offset_at(epoch_s("2021-11-07T06:00:00Z")), -5 * 3600);
  // Before the first change: local mean time (-4:56:02).
  EXPECT_EQ(utc_of(ny, "1800-01-01 00:00:00"), "1800-01-01T04:56:02Z");
}

TEST(TimeZoneTest, BerlinAcrossBothChanges) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 28 March 2021: 02:00 CET becomes 03:00 CEST.
  EXPECT_EQ(utc_of(berlin, "2021-03-28 01:59:00"), "2021-03-28T00:59:00Z");
  EXPECT_EQ(utc_of(berlin, "2021-03-28 02:30:00"), "2021-03-28T01:30:00Z");  // the gap, as CET
  EXPECT_EQ(utc_of(berlin, "2021-03-28 03:00:00"), "2021-03-28T01:00:00Z");
  // 31 October 2021: 03:00 CEST becomes 02:00 CET.
  EXPECT_EQ(utc_of(berlin, "2021-10-31 01:59:00"), "2021-10-30T23:59:00Z");
  EXPECT_EQ(utc_of(berlin, "2021-10-31 02:30:00"), "2021-10-31T00:30:00Z");  // the earlier, CEST
  EXPECT_EQ(utc_of(berlin, "2021-10-31 03:00:00"), "2021-10-31T02:00:00Z");
  EXPECT_EQ(utc_of(berlin, "2025-02-03 07:30:05"), "2025-02-03T06:30:05Z");
}

TEST(TimeZoneTest, ZonesWithoutDaylightSavingTime) {
  EXPECT_EQ(utc_of(zone("Asia/Tokyo"), "2021-07-01 09:00:00"), "2021-07-01T00:00:00Z");
  EXPECT_EQ(utc_of(zone("Asia/Tokyo"), "2021-01-01 09:00:00"), "2021-01-01T00:00:00Z");
  EXPECT_EQ(utc_of(zone("Asia/Kolkata"), "2021-06-01 05:30:00"), "2021-06-01T00:00:00Z");
  EXPECT_EQ(utc_of(zone("Asia/Kolkata"), "2400-06-01 05:30:00"), "2400-06-01T00:00:00Z");
  const TimeZone utc = zone("UTC");
  EXPECT_TRUE(utc.is_utc());
  EXPECT_EQ(utc.name(), "UTC");
  EXPECT_EQ(utc_of(utc, "2021-03-14 02:30:00"), "2021-03-14T02:30:00Z");
}

TEST(TimeZoneTest, FarFutureDatesFollowTheFootersRule) {
  // The files list changes to 2037; later ones come from the rule
  // "EST5EDT,M3.2.0,M11.1.0" (second Sunday of March, first of November).
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(utc_of(ny, "2080-07-01 00:00:00"), "2080-07-01T04:00:00Z");
  EXPECT_EQ(utc_of(ny, "2400-01-15 12:00:00"), "2400-01-15T17:00:00Z");
  EXPECT_EQ(utc_of(ny, "2400-07-04 12:00:00"), "2400-07-04T16:00:00Z");
  EXPECT_EQ(utc_of(ny, "2400-03-12 02:30:00"), "2400-03-12T07:30:00Z");  // the gap
  EXPECT_EQ(utc_of(ny, "2400-11-05 01:30:00"), "2400-11-05T05:30:00Z");  // the repeat, EDT
  EXPECT_EQ(utc_of(ny, "9999-12-31 19:00:00"), "10000-01-01T00:00:00Z");
  EXPECT_EQ(ny.utc_offset_at(epoch_s("2400-07-04T16:00:00Z")), -4 * 3600);
  // "CET-1CEST,M3.5.0,M10.5.0/3": last Sundays of March and October.
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(utc_of(berlin, "2400-03-26 02:30:00"), "2400-03-26T01:30:00Z");
  EXPECT_EQ(utc_of(berlin, "2400-10-29 02:30:00"), "2400-10-29T00:30:00Z");
  // Southern hemisphere, with a half-hour change: "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0".
  const TimeZone lord_howe = zone("Australia/Lord_Howe");
  EXPECT_EQ(utc_of(lord_howe, "2300-01-15 12:00:00"), "2300-01-15T01:00:00Z");
  EXPECT_EQ(utc_of(lord_howe, "2300-07-15 12:00:00"), "2300-07-15T01:30:00Z");
}

TEST(TimeZoneTest, UnknownZonesAreRefusedWithAClearMessage) {
  const auto mars = TimeZone::named("Mars/Olympus");
  ASSERT_FALSE(mars);
  EXPECT_EQ(mars.status().code(), Status::Code::kNotFound);
  EXPECT_NE(mars.status().message().find("unknown time zone \"Mars/Olympus\""), std::string::npos)
      << mars.status().to_string();
  EXPECT_NE(mars.status().message().find("IANA name"), std::string::npos);
  EXPECT_FALSE(TimeZone::named("../../etc/passwd"));
  EXPECT_FALSE(TimeZone::named("/etc/passwd"));
  EXPECT_FALSE(TimeZone::named(""));
  const auto not_tzif = TimeZone::named("zone.tab");
  ASSERT_FALSE(not_tzif);
  EXPECT_NE(not_tzif.status().message().find("not a valid TZif file"), std::string::npos)
      << not_tzif.status().to_string();
  const auto leap = TimeZone::named("right/America/New_York");
  if (std::filesystem::exists("/usr/share/zoneinfo/right/America/New_York")) {
    ASSERT_FALSE(leap);
    EXPECT_NE(leap.status().message().find("leap seconds"), std::string::npos);
  }
}

std::string zone_file(std::string_view name) {
  std::ifstream in("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(TimeZoneTest, DamagedFilesAreRefused) {
  const std::string ny = zone_file("America/New_York");
  ASSERT_GT(ny.size(), 1000u);
  for (const std::size_t size : {std::size_t{0}, std::size_t{10}, std::size_t{44}, std::size_t{100},
                                 ny.size() / 2, ny.size() - 1}) {
    EXPECT_FALSE(TimeZone::from_tzif("cut", ny.substr(0, size))) << size;
  }
  std::string bad_footer = ny;
  bad_footer.replace(bad_footer.rfind("EST5EDT"), 7, "E5EDTXX");
  const auto refused = TimeZone::from_tzif("bad", bad_footer);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("POSIX TZ rule"), std::string::npos);
  EXPECT_TRUE(TimeZone::from_tzif("whole", ny));
}

TEST(TimeZoneTest, ZonesComeFromTzdirWhenSet) {
  const tally::testing::TempDir scratch("tzdir");
  const auto& dir = scratch.path();
  std::filesystem::create_directories(dir / "Test");
  std::ofstream(dir / "Test" / "Zone", std::ios::binary) << zone_file("Europe/Berlin");
  ::setenv("TZDIR", dir.c_str(), 1);
  const auto named = TimeZone::named("Test/Zone");
  ::unsetenv("TZDIR");
  ASSERT_TRUE(named) << named.status().to_string();
  EXPECT_EQ(utc_of(*named, "2021-07-01 02:00:00"), "2021-07-01T00:00:00Z");
}

TEST(TimeZoneTest, ManyZonesAtOnceInOneProcess) {
  const TimeZone ny = zone("America/New_York"), berlin = zone("Europe/Berlin"),
                 tokyo = zone("Asia/Tokyo");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(utc_of(ny, "2021-07-01 12:00:00"), "2021-07-01T16:00:00Z");
    EXPECT_EQ(utc_of(berlin, "2021-07-01 12:00:00"), "2021-07-01T10:00:00Z");
    EXPECT_EQ(utc_of(tokyo, "2021-07-01 12:00:00"), "2021-07-01T03:00:00Z");
  }
}

// The offsets against the C library, which reads the same files with code of
// its own: many instants, 1900 to 2300, in zones with every kind of rule.
// (Setting TZ here is the oracle's need only: the test process is its own.)
TEST(TimeZoneTest, OffsetsAgreeWithTheCLibrary) {
  const char* zones[] = {"America/New_York", "Europe/Berlin",       "Europe/Dublin",
                         "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago",
                         "Asia/Kolkata",     "Asia/Tokyo",          "America/St_Johns",
                         "Pacific/Chatham",  "Africa/Casablanca"};
  std::uint64_t state = 88172645463325252ULL;
  const std::int64_t from = epoch_s("1900-01-01T00:00:00Z"), to = epoch_s("2300-01-01T00:00:00Z");
  for (const char* name : zones) {
    const TimeZone ours = zone(name);
    ::setenv("TZ", (std::string(":") + name).c_str(), 1);
    ::tzset();
    for (int i = 0; i < 4000; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      const auto instant = static_cast<std::time_t>(
          from + static_cast<std::int64_t>(state % static_cast<std::uint64_t>(to - from)));
      std::tm local{};
      ASSERT_NE(::localtime_r(&instant, &local), nullptr);
      ASSERT_EQ(ours.utc_offset_at(instant), local.tm_gmtoff) << name << " at " << instant;
      // And back: a local time that happens once maps to its instant.
      const std::int64_t local_seconds = instant + local.tm_gmtoff;
      const std::int64_t back = ours.local_to_utc(local_seconds);
      ASSERT_EQ(back + ours.utc_offset_at(back), local_seconds) << name << " at " << instant;
    }
  }
  ::unsetenv("TZ");
  ::tzset();
}

TEST(PosixTzRuleTest, ParsesWhatTzifFootersHold) {
  for (const char* good :
       {"EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "JST-9", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
        "EST5EDT,0/0,J365/25", "XXX3EDT4,J60/2,300/167"}) {
    EXPECT_TRUE(PosixTzRule::parse(good)) << good;
  }
  for (const char* bad :
       {"", "E5", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
        "EST5EDT,J0,J365", "EST5 EDT", "<+03-3", "EST25"}) {
    EXPECT_FALSE(PosixTzRule::parse(bad)) << bad;
  }
  const auto ny = PosixTzRule::parse("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(ny);
  EXPECT_EQ(ny->standard_offset(), -5 * 3600);
  const auto changes = ny->changes_in(2021);
  EXPECT_EQ(format_rfc3339_ms(changes[0].at * 1000), "2021-03-14T07:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(changes[1].at * 1000), "2021-11-07T06:00:00Z");
  // Julian days never count 29 February: J60 is 1 March in any year.
  const auto julian = PosixTzRule::parse("AAA0BBB,J60/0,J61/0");
  ASSERT_TRUE(julian);
  EXPECT_EQ(format_rfc3339_ms(julian->changes_in(2024)[0].at * 1000), "2024-03-01T00:00:00Z");
}

}  // namespace
}  // namespace tally::adapters
