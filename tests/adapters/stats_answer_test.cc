#include "adapters/stats_answer.h"

#include <gtest/gtest.h>

namespace tally::adapters {
namespace {

TEST(StatsAnswerTest, ReadsTallydsStats) {
  const auto totals = parse_stats_totals(
      R"({"received":12,"accepted":7,"duplicates":2,"rejected_total":3,)"
      R"("rejected":{"bad_time":1,"unknown_type":2},"subjects":4,"workers":[]})");
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->received, 12u);
  EXPECT_EQ(totals->rejected, 3u);
  EXPECT_EQ(totals->processed(), 12u);
}

TEST(StatsAnswerTest, SumsRejectedByReasonWhenThereIsNoTotal) {
  const auto totals =
      parse_stats_totals(R"({"accepted":1,"duplicates":0,"rejected":{"a":2,"b":3}})");
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->rejected, 5u);
  EXPECT_EQ(totals->received, 0u);
  EXPECT_EQ(parse_stats_totals(R"({"accepted":1,"duplicates":0,"rejected":4})")->rejected, 4u);
  EXPECT_EQ(parse_stats_totals(R"({"accepted":1,"duplicates":0})")->rejected, 0u);
}

TEST(StatsAnswerTest, AnythingElseIsNotStats) {
  EXPECT_FALSE(parse_stats_totals(R"({"error":{"code":"bad_request","message":"x"}})"));
  EXPECT_FALSE(parse_stats_totals("not json"));
  EXPECT_FALSE(parse_stats_totals("[1,2]"));
}

}  // namespace
}  // namespace tally::adapters
