// The autoscaler's decisions on samples written by hand: when it adds a
// worker, when it removes one, its range, and that a change restarts it.
#include "scorer/autoscaler.h"

#include <gtest/gtest.h>

namespace tally::scorer {
namespace {

using Clock = Autoscaler::Clock;
using std::chrono::seconds;

AutoscaleOptions range(std::uint32_t min, std::uint32_t max) {
  AutoscaleOptions options;
  options.min = min;
  options.max = max;
  options.after = seconds(30);
  return options;
}

TEST(AutoscalerTest, AddsAWorkerOnlyAfterSaturationLastsWithQueuesBackingUp) {
  Autoscaler autoscaler(range(1, 4));
  const Clock::time_point t0{};
  for (int s = 0; s < 30; ++s) {
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 1, {0.95}, {4000})) << s;
  }
  const auto decision = autoscaler.observe(t0 + seconds(30), 1, {0.95}, {4000});
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->workers, 2u);
  EXPECT_NE(decision->reason.find("over 80 % busy for 30 s"), std::string::npos)
      << decision->reason;
  EXPECT_EQ(autoscaler.ups(), 1u);
}

TEST(AutoscalerTest, BusyWithoutABacklogOrABreakInTheMiddleStartsAgain) {
  Autoscaler autoscaler(range(1, 4));
  const Clock::time_point t0{};
  for (int s = 0; s <= 60; ++s) {  // busy, but the queues keep up
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 2, {0.95, 0.5}, {10, 0}));
  }
  for (int s = 61; s <= 80; ++s)
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 2, {0.9, 0.9}, {3000, 0}));
  EXPECT_FALSE(autoscaler.observe(t0 + seconds(81), 2, {0.5, 0.5}, {3000, 0}));  // a break
  for (int s = 82; s < 112; ++s)
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 2, {0.9, 0.9}, {3000, 0}));
  EXPECT_TRUE(autoscaler.observe(t0 + seconds(112), 2, {0.9, 0.9}, {3000, 0}));
}

TEST(AutoscalerTest, RemovesAWorkerAfterTenTimesTheWaitAllQuiet) {
  Autoscaler autoscaler(range(1, 4));
  const Clock::time_point t0{};
  for (int s = 0; s < 300; ++s) {
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 3, {0.1, 0.2, 0.05}, {0, 0, 0})) << s;
  }
  const auto decision = autoscaler.observe(t0 + seconds(300), 3, {0.1, 0.2, 0.05}, {0, 0, 0});
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->workers, 2u);
  EXPECT_EQ(autoscaler.downs(), 1u);
}

TEST(AutoscalerTest, NeverLeavesTheRangeAndBringsACountBackIntoIt) {
  Autoscaler autoscaler(range(2, 3));
  const Clock::time_point t0{};
  const auto back = autoscaler.observe(t0, 5, {0.1}, {0});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->workers, 3u);
  for (int s = 1; s < 400; ++s) {  // saturated at the maximum, idle at the minimum: nothing
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 3, {0.99, 0.99, 0.99}, {4000, 0, 0}));
  }
  for (int s = 400; s < 800; ++s)
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 2, {0.0, 0.0}, {0, 0}));
}

TEST(AutoscalerTest, AChangeByHandStartsTheClocksAgain) {
  Autoscaler autoscaler(range(1, 8));
  const Clock::time_point t0{};
  for (int s = 0; s < 29; ++s)
    EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 2, {0.9, 0.9}, {3000, 3000}));
  // An operator went to 4: 30 more seconds of saturation at 4 before a 5th.
  for (int s = 29; s < 59; ++s) EXPECT_FALSE(autoscaler.observe(t0 + seconds(s), 4, {0.9}, {3000}));
  const auto decision = autoscaler.observe(t0 + seconds(59), 4, {0.9}, {3000});
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->workers, 5u);
}

TEST(AutoscalerTest, RangesAreReadOrRefusedWithTheForm) {
  const auto ok = parse_autoscale_range("1:8");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->min, 1u);
  EXPECT_EQ(ok->max, 8u);
  for (const char* bad : {"", "8", "0:4", "5:4", "1:4097", "a:b", "1:8:9", "-1:3"}) {
    const auto refused = parse_autoscale_range(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.status().message().find("MIN:MAX"), std::string::npos);
  }
}

}  // namespace
}  // namespace tally::scorer
