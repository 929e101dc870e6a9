// The plan of a worker-count change: balanced after, as few moves as that
// allows, each group moved at most once, givers interleaved.
#include "scorer/rescale_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace tally::scorer {
namespace {

std::vector<std::uint32_t> initial(std::uint32_t workers) {
  std::vector<std::uint32_t> owners(kKeyGroups);
  for (std::uint32_t g = 0; g < kKeyGroups; ++g) owners[g] = KeyGroupMap::initial_owner(g, workers);
  return owners;
}

// Applies the plan and checks it: balanced, minimal, every group once.
std::vector<std::uint32_t> apply_checked(std::vector<std::uint32_t> owners, std::uint32_t workers) {
  std::vector<std::uint32_t> before_counts(std::max<std::size_t>(workers, 4096), 0);
  for (const std::uint32_t owner : owners) ++before_counts[owner];
  const std::vector<GroupMove> moves = plan_rescale(owners, workers);
  std::set<std::uint32_t> moved;
  for (const GroupMove& move : moves) {
    EXPECT_EQ(owners[move.group], move.from) << move.group;
    EXPECT_LT(move.to, workers);
    EXPECT_NE(move.from, move.to);
    EXPECT_TRUE(moved.insert(move.group).second) << "group " << move.group << " moved twice";
    owners[move.group] = move.to;
  }
  std::vector<std::uint32_t> counts(workers, 0);
  for (const std::uint32_t owner : owners) {
    EXPECT_LT(owner, workers);
    if (owner < workers) ++counts[owner];
  }
  const auto [least, most] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_LE(*most - *least, 1u) << "unbalanced after " << workers;
  // Minimal: every group a worker keeps up to its share stays.
  std::size_t must_move = 0;
  for (std::uint32_t w = 0; w < before_counts.size(); ++w) {
    if (w >= workers) {
      must_move += before_counts[w];
    } else if (before_counts[w] > *most) {
      must_move += before_counts[w] - *most;
    }
  }
  EXPECT_LE(moves.size(), must_move + workers) << "more moves than the balance needs";
  return owners;
}

TEST(RescalePlanTest, EachChangeOfASequenceIsBalancedAndMinimal) {
  std::vector<std::uint32_t> owners = initial(2);
  for (const std::uint32_t workers : {4u, 1u, 3u, 2u, 7u, 4096u, 5u, 1u}) {
    owners = apply_checked(owners, workers);
  }
}

TEST(RescalePlanTest, DoublingMovesHalfAndGiversTakeTurns) {
  const auto moves = plan_rescale(initial(2), 4);
  EXPECT_EQ(moves.size(), 2048u);
  ASSERT_GE(moves.size(), 2u);
  EXPECT_NE(moves[0].from, moves[1].from);  // both givers work in every wave
}

TEST(RescalePlanTest, TheSameCountMovesNothing) {
  for (const std::uint32_t workers : {1u, 3u, 64u}) {
    EXPECT_TRUE(plan_rescale(initial(workers), workers).empty()) << workers;
  }
}

}  // namespace
}  // namespace tally::scorer
