// Time formats of source exports: 12-hour clocks, impossible dates, and
// local times read in a zone.
#include "adapters/time_format.h"

#include <gtest/gtest.h>

#include "core/event_time.h"

namespace tally::adapters {
namespace {

std::string read_in(const TimeZone& zone, std::string_view format, std::string_view text,
                    std::string* why = nullptr) {
  const auto parsed = TimeFormat::parse(format);
  EXPECT_TRUE(parsed) << parsed.status().to_string();
  if (!parsed) return "format?";
  const auto ms = parsed->read(text, zone);
  if (why != nullptr) *why = ms ? "" : std::string(ms.status().message());
  return ms ? format_rfc3339_ms(*ms) : "refused";
}

std::string read_utc(std::string_view format, std::string_view text, std::string* why = nullptr) {
  return read_in(TimeZone(), format, text, why);
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
  const auto message = [](std::string_view format) {
    const auto parsed = TimeFormat::parse(format);
    EXPECT_FALSE(parsed) << format;
    return std::string(parsed.status().message());
  };
  EXPECT_NE(message("%H:%M").find("needs a date"), std::string::npos);
  EXPECT_NE(message("%Y-%m-%d %I:%M").find("go together"), std::string::npos);
  EXPECT_NE(message("%Y-%m-%d %Q").find("unknown field %Q"), std::string::npos);
  EXPECT_NE(message("%Y-%m-%d %").find("lone %"), std::string::npos);
}

TEST(TimeFormatTest, PatternsAreReadInTheirZoneOtherFormatsSayTheirOwn) {
  const auto zone = TimeZone::named("America/New_York");
  ASSERT_TRUE(zone) << zone.status().to_string();
  // Winter: UTC-5; summer: UTC-4.
  EXPECT_EQ(read_in(*zone, kNyc, "01/15/2020 12:00P"), "2020-01-15T17:00:00Z");
  EXPECT_EQ(read_in(*zone, kNyc, "07/15/2020 12:00A"), "2020-07-15T04:00:00Z");
  EXPECT_EQ(read_in(*zone, "%Y-%m-%d %H:%M:%S.%f", "2020-07-15 00:00:00.125"),
            "2020-07-15T04:00:00.125Z");
  EXPECT_EQ(read_in(*zone, "rfc3339", "2020-07-15T00:00:00Z"), "2020-07-15T00:00:00Z");
  EXPECT_EQ(read_in(*zone, "epoch_s", "1700000000"), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace tally::adapters
