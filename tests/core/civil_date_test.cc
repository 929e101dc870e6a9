// The civil calendar as arithmetic: days to dates and back over the whole
// four-digit range and past it, validity, weekdays.
#include "core/civil_date.h"

#include <gtest/gtest.h>

#include <string>

#include "core/event_time.h"

namespace tally {
namespace {

TEST(CivilDateTest, KnownDays) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(0, 1, 1), -719528);
  EXPECT_EQ(civil_from_days(19723), (CivilDate{2024, 1, 1}));
  EXPECT_EQ(civil_from_days(-719528), (CivilDate{0, 1, 1}));
}

TEST(CivilDateTest, EveryDayRoundTripsAndFollowsTheLast) {
  // Day by day from 1600 to 2500: each date is valid, is the day after the
  // previous one, and its weekday is the next one.
  std::int64_t day = days_from_civil(1600, 1, 1);
  CivilDate previous = civil_from_days(day - 1);
  unsigned weekday = weekday_from_days(day - 1);
  for (; day < days_from_civil(2500, 1, 1); ++day) {
    const CivilDate date = civil_from_days(day);
    ASSERT_TRUE(valid_date(date.year, date.month, date.day)) << day;
    ASSERT_EQ(days_from_civil(date.year, date.month, date.day), day);
    const bool next_in_month =
        date.year == previous.year && date.month == previous.month && date.day == previous.day + 1;
    const bool first_of_month =
        date.day == 1 && previous.day == days_in_month(previous.year, previous.month);
    ASSERT_TRUE(next_in_month || first_of_month) << day;
    ASSERT_EQ(weekday_from_days(day), (weekday + 1) % 7) << day;
    previous = date;
    weekday = weekday_from_days(day);
  }
  EXPECT_EQ(weekday_from_days(days_from_civil(2021, 3, 14)), 0u);  // a Sunday
  EXPECT_EQ(weekday_from_days(days_from_civil(1600, 1, 1)), 6u);   // a Saturday
}

TEST(CivilDateTest, ValidDates) {
  EXPECT_TRUE(valid_date(2000, 2, 29));
  EXPECT_TRUE(valid_date(2024, 2, 29));
  EXPECT_FALSE(valid_date(1900, 2, 29));
  EXPECT_FALSE(valid_date(2021, 2, 29));
  EXPECT_FALSE(valid_date(2020, 11, 31));
  EXPECT_FALSE(valid_date(2020, 0, 1));
  EXPECT_FALSE(valid_date(2020, 13, 1));
  EXPECT_FALSE(valid_date(2020, 1, 0));
  EXPECT_TRUE(valid_date(-1, 12, 31));
}

}  // namespace
}  // namespace tally
