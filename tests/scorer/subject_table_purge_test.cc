// SubjectTable::purge: what goes and when (retention bounds, tombstones,
// revokes kept with their targets), and the memory given back.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "scorer/subject_table.h"
#include "tests/scorer/subject_table_support.h"

namespace tally::scorer {
namespace {

using testing::make_event;
using testing::SubjectTableTest;

TEST_F(SubjectTableTest, PurgeDropsExactlyAfterRetention) {
  apply(make_event("a", "s", fine_, 0));  // expires at 100
  EXPECT_EQ(table_.purge(149, 50), 0u);   // 100 + 50 > 149: kept
  ASSERT_NE(table_.find("s"), nullptr);
  EXPECT_EQ(contributions("s").size(), 1u);
  EXPECT_EQ(score("s", 99), 3);          // the past is still answered
  EXPECT_EQ(table_.purge(150, 50), 1u);  // 100 + 50 <= 150: dropped, subject gone
  EXPECT_EQ(table_.find("s"), nullptr);
  EXPECT_EQ(table_.subjects(), 0u);
  // Its id is forgotten with it.
  EXPECT_EQ(apply(make_event("a", "s", fine_, 0)), ApplyOutcome::kAccepted);
}

TEST_F(SubjectTableTest, PurgeKeepsWhatNeverExpires) {
  apply(make_event("a", "s", credit_, 0));
  EXPECT_EQ(table_.purge(kNever, 0), 0u);
  EXPECT_EQ(score("s", 10), -2);
}

TEST_F(SubjectTableTest, PurgeIsOverflowSafe) {
  apply(make_event("a", "s", fine_, kNever - 150));  // expires at kNever - 50
  EXPECT_EQ(table_.purge(kNever - 1, 1000), 0u);     // expires + retain overflows: kept
  EXPECT_EQ(table_.purge(kNever - 1, 49), 1u);
  apply(make_event("b", "t", fine_, std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(table_.purge(std::numeric_limits<std::int64_t>::min() + 150, 50), 1u);
}

TEST_F(SubjectTableTest, PurgeDropsTombstonesAfterRetention) {
  apply(make_event("r", "s", revoke_, 1000, "", "missing"));
  EXPECT_EQ(table_.purge(1499, 500), 0u);
  EXPECT_EQ(pending("s").size(), 1u);
  EXPECT_EQ(table_.purge(1500, 500), 1u);
  EXPECT_EQ(table_.find("s"), nullptr);
}

TEST_F(SubjectTableTest, PurgeKeepsARevokeWhileItsTargetStays) {
  apply(make_event("a", "s", credit_, 0));
  apply(make_event("r", "s", revoke_, 10, "", "a"));
  EXPECT_EQ(table_.purge(1'000'000, 100), 0u);
  const auto listed = contributions("s");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].revoked);
  EXPECT_EQ(listed[0].revoked_by, "r");
  EXPECT_EQ(score("s", 1'000'000), 0);
  EXPECT_EQ(apply(make_event("r", "s", revoke_, 10, "", "a")), ApplyOutcome::kDuplicate);
}

TEST_F(SubjectTableTest, PurgeDropsARevokedContributionByItsExpiry) {
  apply(make_event("a", "s", fine_, 0));               // expires at 100
  apply(make_event("r", "s", revoke_, 400, "", "a"));  // within retention longer
  apply(make_event("keep", "s", credit_, 0));
  EXPECT_EQ(table_.purge(300, 200), 0u);  // 100 + 200 <= 300: a goes
  const SubjectState& state = *table_.find("s");
  const auto listed = contributions(state);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, "keep");
  // Its revoke is younger than retention, so it stays, now as a tombstone: a
  // late resend of `a` is still recorded revoked.
  const auto waiting = pending(state);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].id, "r");
  EXPECT_EQ(apply(make_event("a", "s", fine_, 0)), ApplyOutcome::kAccepted);
  EXPECT_EQ(score("s", 50), -2);
  EXPECT_TRUE(pending("s").empty());
  // Expired again: both go once the revoke's time is past retention too.
  EXPECT_EQ(table_.purge(600, 200), 0u);
  EXPECT_EQ(contributions("s").size(), 1u);
  EXPECT_TRUE(pending("s").empty());
}

TEST_F(SubjectTableTest, PurgeLeavesScoresWithinRetentionUnchanged) {
  std::mt19937_64 random(11);
  const Rule* rules[] = {&fine_, &credit_, &big_};
  for (int s = 0; s < 40; ++s) {
    for (int e = 0; e < 6; ++e) {
      const std::int64_t time = static_cast<std::int64_t>(random() % 5000);
      apply(make_event(fmt::format("e{}", e), fmt::format("s{}", s), *rules[random() % 3], time));
    }
    if (s % 4 == 0) apply(make_event("r", fmt::format("s{}", s), revoke_, 2500, "", "e1"));
  }
  const std::int64_t now = 6000;
  const std::int64_t retain = 1500;
  std::map<std::string, std::vector<std::int64_t>> before;
  for (int s = 0; s < 40; ++s) {
    for (std::int64_t t = now - retain; t <= now + 2000; t += 37) {
      before[fmt::format("s{}", s)].push_back(score(fmt::format("s{}", s), t));
    }
  }
  table_.purge(now, retain);
  for (int s = 0; s < 40; ++s) {
    std::size_t k = 0;
    for (std::int64_t t = now - retain; t <= now + 2000; t += 37) {
      EXPECT_EQ(score(fmt::format("s{}", s), t), before[fmt::format("s{}", s)][k++]);
    }
  }
}

TEST_F(SubjectTableTest, PurgeRemovesEmptySubjectsAndKeepsOthers) {
  for (int i = 0; i < 3000; ++i) {
    apply(make_event("a", fmt::format("s{:04}", i), i % 10 == 0 ? credit_ : fine_, 0));
  }
  const std::size_t full = table_.memory_bytes();
  EXPECT_EQ(table_.purge(1000, 100), 2700u);
  EXPECT_EQ(table_.subjects(), 300u);
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(table_.find(fmt::format("s{:04}", i)) != nullptr, i % 10 == 0);
  }
  // The memory of what went is given back, and is there again for new subjects.
  EXPECT_LT(table_.memory_bytes(), full);
  for (int i = 0; i < 2700; ++i) apply(make_event("a", fmt::format("n{:04}", i), fine_, 0));
  EXPECT_LE(table_.memory_bytes(), full);
}

TEST_F(SubjectTableTest, PurgeCompactsSizeClassesLeftSparse) {
  // Every subject holds one never-expiring contribution; then every other one
  // gets a second, which moves its blob to the next size class and leaves a
  // hole behind. Purge (dropping nothing) compacts: blobs move, nothing else.
  constexpr int kSubjects = 20000;
  const auto subject = [](int i) { return fmt::format("s{:05}", i); };
  for (int i = 0; i < kSubjects; ++i) apply(make_event("a", subject(i), credit_, i, "cam"));
  for (int i = 0; i < kSubjects; i += 2) apply(make_event("b", subject(i), big_, i + 1));
  for (int i = 0; i < kSubjects; i += 7) {
    apply(make_event("r", subject(i), revoke_, 1'000'000 + i, "", i % 2 == 0 ? "b" : "x"));
  }
  std::vector<std::string> before;
  for (int i = 0; i < kSubjects; ++i) {
    before.push_back(describe(subject(i)) + fmt::format("{}", score(subject(i), i + 1)));
  }
  const std::size_t bytes_before = table_.memory_bytes();
  EXPECT_EQ(table_.purge(0, 0), 0u);
  EXPECT_LT(table_.memory_bytes(), bytes_before - (kSubjects / 2 - 1024) * 24);
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(describe(subject(i)) + fmt::format("{}", score(subject(i), i + 1)), before[i]);
  }
  // The table goes on working: new subjects, growth, and another compaction.
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(apply(make_event("c", subject(i), fine_, 5)), ApplyOutcome::kAccepted);
    ASSERT_EQ(apply(make_event("a", subject(i), credit_, i)), ApplyOutcome::kDuplicate);
  }
  for (int i = 0; i < 5000; ++i) apply(make_event("a", fmt::format("new{}", i), credit_, 1));
  EXPECT_EQ(table_.purge(1000, 0), 0u);  // drops every "c" (expired at 105)
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(describe(subject(i)) + fmt::format("{}", score(subject(i), i + 1)), before[i]);
  }
  EXPECT_EQ(table_.subjects(), static_cast<std::size_t>(kSubjects + 5000));
}

}  // namespace
}  // namespace tally::scorer
