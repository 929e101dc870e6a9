// Time formats of source exports: 12-hour clocks, impossible dates, zones.
#include "adapters/civil_time.h"

#include <gtest/gtest.h>

#include "stream/event_time.h"

namespace tally::adapters {
namespace {

std::string read_utc(std::string_view format, std::string_view text, std::string* why = nullptr) {
  std::string error;
  const auto parsed = TimeFormat::parse(format, error);
  EXPECT_TRUE(parsed) << error;
  if (!parsed) return "format?";
  const auto ms = parsed->read(text, TimeZone(), error);
  if (why != nullptr) *why = error;
  return ms ? stream::format_rfc3339_ms(*ms) : "refused";
}

constexpr std::string_view kNyc = "%m/%d/%Y %I:%M%p";

TEST(TimeFormatTest, TwelveHourClockEdges) {
  EXPECT_EQ(read_utc(kNyc, "10/13/2020 02:45P"), "2020-10-13T14:45:00Z");
  EXPECT_EQ(read_utc(kNyc, "10/13/2020 02:45A"), "2020-10-13T02:45:00Z");
  EXPECT_EQ(read_utc(kNyc, "09/18/2020 12:33P"), "2020-09-18T12:33:00Z");  // 12 PM is noon
  EXPECT_EQ(read_utc(kNyc, "09/18/2020 12:33A"), "2020-09-18T00:33:00Z");  // 12 AM is midnight
  EXPECT_EQ(read_utc(kNyc, "12/02/2020 00:29A"), "2020-12-02T00:29:00Z");  // as NYC writes it
  EXPECT_EQ(read_utc(kNyc, "12/31/2020 11:59P"), "2020-12-31T23:59:00Z");
  EXPECT_EQ(read_utc(kNyc, "1/2/2021 1:05pm"), "2021-01-02T13:05:00Z");
  EXPECT_EQ(read_utc(kNyc, "01/02/2021 01:05 PM"), "refused");  // the format has no space there
  EXPECT_EQ(read_utc(kNyc, "01/02/2021 13:05P"), "refused");
  EXPECT_EQ(read_utc(kNyc, "01/02/2021 01:05X"), "refused");
}

TEST(TimeFormatTest, ImpossibleDatesAreRefusedNotRolledOver) {
  std::string why;
  EXPECT_EQ(read_utc(kNyc, "11/31/2020 02:45P", &why), "refused");
  EXPECT_NE(why.find("2020-11-31 is not a date"), std::string::npos) << why;
  EXPECT_EQ(read_utc(kNyc, "02/29/2021 02:45P"), "refused");
  EXPECT_EQ(read_utc(kNyc, "02/29/2020 02:45P"), "2020-02-29T14:45:00Z");
  EXPECT_EQ(read_utc(kNyc, "13/01/2020 02:45P"), "refused");
  EXPECT_EQ(read_utc(kNyc, "10/13/20 02:45P"), "refused");  // %Y is four digits
  EXPECT_EQ(read_utc(kNyc, "10/13/2020 02:60P"), "refused");
  EXPECT_EQ(read_utc(kNyc, "10/13/2020 02:45P extra"), "refused");
}

TEST(TimeFormatTest, OtherPatternsAndNamedFormats) {
  EXPECT_EQ(read_utc("%Y-%m-%d", "2025-02-03"), "2025-02-03T00:00:00Z");
  EXPECT_EQ(read_utc("%Y-%m-%dT%H:%M:%S.%f", "2025-02-03T23:04:05.25"), "2025-02-03T23:04:05.250Z");
  EXPECT_EQ(read_utc("%d.%m.%Y %H:%M", "03.02.2025 07:30"), "2025-02-03T07:30:00Z");
  EXPECT_EQ(read_utc("rfc3339", "2025-03-01T08:33:12-05:00"), "2025-03-01T13:33:12Z");
  EXPECT_EQ(read_utc("epoch_ms", "1700000000123"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(read_utc("epoch_s", "1700000000"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(read_utc("epoch_s", "17e8"), "refused");
}

TEST(TimeFormatTest, UnusableFormatsAreRefused) {
  std::string error;
  EXPECT_FALSE(TimeFormat::parse("%H:%M", error));
  EXPECT_NE(error.find("needs a date"), std::string::npos) << error;
  EXPECT_FALSE(TimeFormat::parse("%Y-%m-%d %I:%M", error));
  EXPECT_NE(error.find("go together"), std::string::npos) << error;
  EXPECT_FALSE(TimeFormat::parse("%Y-%m-%d %Q", error));
  EXPECT_NE(error.find("unknown field %Q"), std::string::npos) << error;
}

TEST(TimeZoneTest, NamedZonesFollowDaylightSaving) {
  std::string error;
  const auto zone = TimeZone::named("America/New_York", error);
  ASSERT_TRUE(zone) << error;
  const auto format = TimeFormat::parse(kNyc, error);
  ASSERT_TRUE(format);
  // Winter: UTC-5; summer: UTC-4.
  EXPECT_EQ(stream::format_rfc3339_ms(*format->read("01/15/2020 12:00P", *zone, error)),
            "2020-01-15T17:00:00Z");
  EXPECT_EQ(stream::format_rfc3339_ms(*format->read("07/15/2020 12:00A", *zone, error)),
            "2020-07-15T04:00:00Z");
  // A second, different zone in one process is refused (see civil_time.h).
  EXPECT_FALSE(TimeZone::named("Europe/Berlin", error));
  EXPECT_TRUE(TimeZone::named("America/New_York", error));
  EXPECT_TRUE(TimeZone::named("UTC", error));
}

TEST(TimeZoneTest, UnknownZonesAreRefusedWithAHint) {
  std::string error;
  EXPECT_FALSE(TimeZone::named("America/Gotham", error));
  EXPECT_NE(error.find("IANA name"), std::string::npos) << error;
  EXPECT_FALSE(TimeZone::named("../../etc/passwd", error));
}

TEST(CivilDateTest, AppendRfc3339MatchesTheStreamFormatter) {
  std::vector<std::int64_t> samples = {0,
                                       1,
                                       999,
                                       1000,
                                       -1,
                                       951782400000,  // 2000-02-29
                                       1602600300250,
                                       stream::kEarliestTimeMs,
                                       stream::kLatestTimeMs};
  std::uint64_t state = 88172645463325252ULL;  // xorshift: many instants across the range
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const auto span = static_cast<std::uint64_t>(stream::kLatestTimeMs - stream::kEarliestTimeMs);
    samples.push_back(stream::kEarliestTimeMs + static_cast<std::int64_t>(state % span));
  }
  for (const std::int64_t ms : samples) {
    std::string out;
    append_rfc3339_ms(out, ms);
    ASSERT_EQ(out, stream::format_rfc3339_ms(ms)) << ms;
  }
}

TEST(CivilDateTest, DaysFromCivil) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_TRUE(valid_date(2000, 2, 29));
  EXPECT_FALSE(valid_date(1900, 2, 29));
}

}  // namespace
}  // namespace tally::adapters
