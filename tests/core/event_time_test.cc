// RFC 3339 <-> epoch milliseconds, checked against std::chrono's calendar as
// an independent oracle, plus the edges: leap years, offsets, fractions,
// negative epochs and the ends of the accepted range.
#include "core/event_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>

namespace tally {
namespace {

using std::chrono::day;
using std::chrono::month;
using std::chrono::year;
using std::chrono::year_month_day;

// Epoch milliseconds of midnight UTC on a date, by std::chrono.
std::int64_t chrono_ms(int y, unsigned m, unsigned d) {
  const std::chrono::sys_days days{year{y} / month{m} / day{d}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(days.time_since_epoch()).count();
}

std::string date_text(int y, unsigned m, unsigned d) {
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT00:00:00Z", y, m, d);
  return text;
}

TEST(EventTimeTest, ParsesKnownInstants) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00Z"), 1709296200000);
  EXPECT_EQ(parse_rfc3339_ms("2001-09-09T01:46:40Z"), 1000000000000);
  EXPECT_EQ(parse_rfc3339_ms("2038-01-19T03:14:08Z"), 2147483648000);  // past 32-bit time_t
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(parse_rfc3339_ms("1900-01-01T00:00:00Z"), -2208988800000);
}

TEST(EventTimeTest, AcceptsEverySeparatorAndZoneSpelling) {
  const std::int64_t expected = 1709296200000;
  for (const char* text :
       {"2024-03-01T12:30:00Z", "2024-03-01t12:30:00z", "2024-03-01 12:30:00Z",
        "2024-03-01T12:30:00+00:00", "2024-03-01T12:30:00-00:00", "2024-03-01T13:30:00+01:00",
        "2024-03-01T08:30:00-04:00", "2024-03-01T18:15:00+05:45", "2024-03-02T12:29:00+23:59",
        "2024-02-29T12:31:00-23:59"}) {
    EXPECT_EQ(parse_rfc3339_ms(text), expected) << text;
  }
}

TEST(EventTimeTest, TruncatesFractionsToMilliseconds) {
  const std::int64_t base = 1709296200000;
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.5Z"), base + 500);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.25Z"), base + 250);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.123Z"), base + 123);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.1239Z"), base + 123);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.999999999Z"), base + 999);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00.000000001Z"), base);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T12:30:00." + std::string(200, '7') + "Z"), base + 777);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T08:30:00.250-04:00"), base + 250);
  // Before 1970 the fraction still counts forward from its second.
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.5Z"), -500);
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), -1);
}

TEST(EventTimeTest, KnowsTheLeapYearRules) {
  EXPECT_TRUE(parse_rfc3339_ms("2024-02-29T00:00:00Z"));   // divisible by 4
  EXPECT_FALSE(parse_rfc3339_ms("2023-02-29T00:00:00Z"));  // not
  EXPECT_FALSE(parse_rfc3339_ms("1900-02-29T00:00:00Z"));  // by 100, not by 400
  EXPECT_TRUE(parse_rfc3339_ms("2000-02-29T00:00:00Z"));   // by 400
  EXPECT_TRUE(parse_rfc3339_ms("0000-02-29T00:00:00Z"));   // year 0 is a leap year
  EXPECT_FALSE(parse_rfc3339_ms("2100-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-02-30T00:00:00Z"));
  EXPECT_EQ(*parse_rfc3339_ms("2024-03-01T00:00:00Z") - *parse_rfc3339_ms("2024-02-28T00:00:00Z"),
            2 * 86400000);
  EXPECT_EQ(*parse_rfc3339_ms("2023-03-01T00:00:00Z") - *parse_rfc3339_ms("2023-02-28T00:00:00Z"),
            86400000);
}

TEST(EventTimeTest, AgreesWithChronoOnEveryDateOfSampleYears) {
  // Every month and day number 0-32 in years that exercise each leap rule and
  // both sides of the epoch and of the era boundaries of the algorithm.
  for (int y : {0,    1,    4,    99,   100,  399,  400,  401,  1600, 1899, 1900,
                1969, 1970, 1971, 1999, 2000, 2023, 2024, 2100, 2400, 9998, 9999}) {
    for (unsigned m = 0; m <= 13; ++m) {
      for (unsigned d = 0; d <= 32; ++d) {
        const std::string text = date_text(y, m, d);
        const year_month_day date{year{y}, month{m}, day{d}};
        const auto parsed = parse_rfc3339_ms(text);
        ASSERT_EQ(parsed.has_value(), date.ok()) << text;
        if (parsed) {
          EXPECT_EQ(*parsed, chrono_ms(y, m, d)) << text;
        }
      }
    }
  }
}

TEST(EventTimeTest, RefusesWhatIsNotRfc3339) {
  for (const char* text : {
           "",
           "2024",
           "2024-03-01",
           "2024-03-01T",
           "2024-03-01T12:30",
           "2024-03-01T12:30:00",
           "2024-03-01T12:30:00.Z",   // fraction without digits
           "2024-03-01T12:30:00,5Z",  // comma fraction (ISO 8601, not RFC 3339)
           "2024-03-01T24:00:00Z",    // hour 24
           "2024-03-01T12:60:00Z",    // minute 60
           "2024-03-01T12:30:60Z",    // leap second
           "2024-13-01T12:30:00Z",
           "2024-00-01T12:30:00Z",
           "2024-03-00T12:30:00Z",
           "2024-04-31T12:30:00Z",
           "2024-03-32T12:30:00Z",
           "2024-03-01T12:30:00+24:00",
           "2024-03-01T12:30:00+01:60",
           "2024-03-01T12:30:00+0100",
           "2024-03-01T12:30:00+01",
           "2024-03-01T12:30:00 Z",
           "2024-03-01T12:30:00ZZ",
           "2024-03-01T12:30:00Zjunk",
           "2024-03-01_12:30:00Z",
           "2024-03-0112:30:00Z",
           "24-03-01T12:30:00Z",
           "2024-3-01T12:30:00Z",
           "2024-03-1T12:30:00Z",
           "2024-03-01T1:30:00Z",
           "20240-03-01T12:30:00Z",
           "+2024-03-01T12:30:00Z",
           "-2024-03-01T12:30:00Z",
           " 2024-03-01T12:30:00Z",
           "2024-03-01T12:30:00Z ",
           "2024/03/01T12:30:00Z",
           "2024-03-01T12.30.00Z",
           "２０２４-03-01T12:30:00Z",
           "1709296200000",
       }) {
    EXPECT_FALSE(parse_rfc3339_ms(text).has_value()) << text;
  }
  // Embedded NUL: the whole view is parsed, not a C string.
  EXPECT_FALSE(parse_rfc3339_ms(std::string_view("2024-03-01T12:30:00Z\0", 21)).has_value());
}

TEST(EventTimeTest, HoldsInstantsToYears0000Through9999) {
  EXPECT_EQ(parse_rfc3339_ms("0000-01-01T00:00:00Z"), kEarliestTimeMs);
  EXPECT_EQ(parse_rfc3339_ms("9999-12-31T23:59:59.999Z"), kLatestTimeMs);
  EXPECT_EQ(kEarliestTimeMs, chrono_ms(0, 1, 1));
  EXPECT_EQ(kLatestTimeMs, chrono_ms(10000, 1, 1) - 1);
  // An offset can carry a four-digit date over either end.
  EXPECT_FALSE(parse_rfc3339_ms("0000-01-01T00:00:00+00:01"));
  EXPECT_EQ(parse_rfc3339_ms("0000-01-01T00:01:00+00:01"), kEarliestTimeMs);
  EXPECT_FALSE(parse_rfc3339_ms("9999-12-31T23:59:59-00:01"));
  EXPECT_EQ(parse_rfc3339_ms("9999-12-31T23:58:59.999-00:01"), kLatestTimeMs);
}

TEST(EventTimeTest, FormatsUtcWithMillisecondsOnlyWhenThereAreAny) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(1709296200000), "2024-03-01T12:30:00Z");
  EXPECT_EQ(format_rfc3339_ms(1709296200250), "2024-03-01T12:30:00.250Z");
  EXPECT_EQ(format_rfc3339_ms(1709296200001), "2024-03-01T12:30:00.001Z");
  EXPECT_EQ(format_rfc3339_ms(1709251199999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(951782400000), "2000-02-29T00:00:00Z");
}

TEST(EventTimeTest, FormatsNegativeEpochs) {
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339_ms(-500), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(format_rfc3339_ms(-86400000), "1969-12-31T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(-86400001), "1969-12-30T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-2208988800000), "1900-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(kEarliestTimeMs), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(kLatestTimeMs), "9999-12-31T23:59:59.999Z");
}

TEST(EventTimeTest, FormatsInstantsOutsideTheRangeUnambiguously) {
  EXPECT_EQ(format_rfc3339_ms(kEarliestTimeMs - 1), "-0001-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(kLatestTimeMs + 1), "10000-01-01T00:00:00Z");
  // The extremes do not overflow.
  EXPECT_EQ(format_rfc3339_ms(std::numeric_limits<std::int64_t>::max()),
            "292278994-08-17T07:12:55.807Z");
  EXPECT_EQ(format_rfc3339_ms(std::numeric_limits<std::int64_t>::min()),
            "-292275055-05-16T16:47:04.192Z");
}

TEST(EventTimeTest, FormatAndParseRoundTripAcrossTheWholeRange) {
  // About 36.5 days, odd and not a multiple of 5: some 100,000 instants from
  // 0000 to 9999, at ever-changing times of day and milliseconds.
  constexpr std::int64_t kStride = 3'155'695'207;
  int checked = 0;
  for (std::int64_t ms = kEarliestTimeMs; ms <= kLatestTimeMs; ms += kStride) {
    const std::string text = format_rfc3339_ms(ms);
    ASSERT_EQ(parse_rfc3339_ms(text), ms) << text;
    ++checked;
  }
  EXPECT_GE(checked, 99'999);
  for (std::int64_t ms = -100'000; ms <= 100'000; ms += 7) {
    ASSERT_EQ(parse_rfc3339_ms(format_rfc3339_ms(ms)), ms) << ms;
  }
}

TEST(EventTimeTest, AppendedTextMatchesStdChronosCalendar) {
  // The fast writer against std::chrono's civil calendar and printf.
  std::uint64_t state = 88172645463325252ULL;  // xorshift: instants across the range
  const auto span = static_cast<std::uint64_t>(kLatestTimeMs - kEarliestTimeMs);
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const std::int64_t ms = kEarliestTimeMs + static_cast<std::int64_t>(state % span);
    const std::chrono::sys_time<std::chrono::milliseconds> instant{std::chrono::milliseconds(ms)};
    const auto days = std::chrono::floor<std::chrono::days>(instant);
    const year_month_day date{days};
    const std::chrono::hh_mm_ss time{instant - days};
    char expected[40];
    std::snprintf(expected, sizeof expected, "%04d-%02u-%02uT%02d:%02d:%02d",
                  static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                  static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                  static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    std::string text = expected;
    if (const auto millis = time.subseconds().count(); millis != 0) {
      std::snprintf(expected, sizeof expected, ".%03d", static_cast<int>(millis));
      text += expected;
    }
    text += 'Z';
    std::string out = "x";
    append_rfc3339_ms(out, ms);
    ASSERT_EQ(out, "x" + text) << ms;
  }
}

}  // namespace
}  // namespace tally
