// Moving key groups between tables (a live worker-count change): what
// leaves one table arrives whole in another, with its contributions,
// revocations, pending revokes and dedup ids, and the giver keeps the rest.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/scorer/subject_table_support.h"

namespace tally::scorer {
namespace {

using testing::make_event;
using testing::SubjectTableTest;

class SubjectTableMoveTest : public SubjectTableTest {
 protected:
  // 400 subjects with contributions, a revoked one, a pending revoke, and a
  // busy one whose blob is in the large class.
  void fill() {
    for (int s = 0; s < 400; ++s) {
      const std::string subject = fmt::format("plate:M:{}", s);
      ASSERT_EQ(apply(make_event(fmt::format("f{}", s), subject, fine_, 10, "cam-1")),
                ApplyOutcome::kAccepted);
      ASSERT_EQ(apply(make_event(fmt::format("c{}", s), subject, credit_, 20)),
                ApplyOutcome::kAccepted);
      if (s % 3 == 0) {
        ASSERT_EQ(apply(make_event(fmt::format("r{}", s), subject, revoke_, 30, "court",
                                   fmt::format("f{}", s))),
                  ApplyOutcome::kAccepted);
      }
      if (s % 5 == 0) {  // its target never came
        ASSERT_EQ(apply(make_event(fmt::format("p{}", s), subject, revoke_, 40, "court", "gone")),
                  ApplyOutcome::kAccepted);
      }
    }
    for (int i = 0; i < 300; ++i) {
      ASSERT_EQ(apply(make_event(fmt::format("busy{}", i), "plate:M:busy", big_, i)),
                ApplyOutcome::kAccepted);
    }
  }

  std::map<std::string, std::string> snapshot_of(const SubjectTable& table) const {
    std::map<std::string, std::string> out;
    table.for_each_subject([&](const SubjectState& state) {
      out[std::string(SubjectTable::subject_of(state))] = testing::describe(table, &state);
    });
    return out;
  }
};

TEST_F(SubjectTableMoveTest, WhatLeavesArrivesWholeAndTheRestStays) {
  fill();
  const auto before = snapshot_of(table_);
  std::bitset<kKeyGroups> moving;
  for (std::uint32_t group = 0; group < kKeyGroups; group += 2) moving.set(group);

  std::string blobs;
  std::size_t taken = 0;
  const std::size_t removed =
      table_.extract_groups(moving, [&](std::uint32_t group, std::string_view blob) {
        EXPECT_TRUE(moving.test(group));
        blobs.append(blob);
        ++taken;
      });
  EXPECT_EQ(removed, taken);
  EXPECT_GT(removed, 100u);
  EXPECT_LT(removed, before.size());
  table_.for_each_subject([&](const SubjectState& state) {
    EXPECT_FALSE(moving.test(key_group_of(stable_hash64(SubjectTable::subject_of(state)))));
  });

  SubjectTable receiver(interns_);
  std::size_t added = 0;
  EXPECT_EQ(receiver.insert_blobs(blobs, [&](const SubjectState&) { ++added; }), removed);
  EXPECT_EQ(added, removed);
  EXPECT_EQ(table_.subjects() + receiver.subjects(), before.size());

  // Together they hold exactly what the one table held.
  auto after = snapshot_of(table_);
  after.merge(snapshot_of(receiver));
  EXPECT_EQ(after, before);

  // Dedup ids and tombstones travelled: resends are duplicates, and the
  // late target of a pending revoke arrives revoked.
  for (int s = 0; s < 400; s += 5) {
    const std::string subject = fmt::format("plate:M:{}", s);
    SubjectTable& holder = moving.test(key_group_of(stable_hash64(subject))) ? receiver : table_;
    EXPECT_EQ(holder.apply(make_event(fmt::format("f{}", s), subject, fine_, 10)).outcome,
              ApplyOutcome::kDuplicate);
    EXPECT_EQ(holder.apply(make_event("gone", subject, big_, 50)).outcome, ApplyOutcome::kAccepted);
    EXPECT_EQ(holder.score_at(*holder.find(subject), 60).raw, (s % 3 == 0 ? 0 : 3) - 2) << subject;
  }
}

TEST_F(SubjectTableMoveTest, NoGroupsMovesNothingAndAllGroupsMovesEverything) {
  fill();
  const std::size_t subjects = table_.subjects();
  std::string blobs;
  const auto take = [&](std::uint32_t, std::string_view blob) { blobs.append(blob); };
  EXPECT_EQ(table_.extract_groups({}, take), 0u);
  EXPECT_TRUE(blobs.empty());
  EXPECT_EQ(table_.extract_groups(std::bitset<kKeyGroups>().set(), take), subjects);
  EXPECT_EQ(table_.subjects(), 0u);
  SubjectTable receiver(interns_);
  EXPECT_EQ(receiver.insert_blobs(blobs, [](const SubjectState&) {}), subjects);
  EXPECT_EQ(receiver.score_at(*receiver.find("plate:M:busy"), 1298).raw,
            10);  // the last one counts
}

}  // namespace
}  // namespace tally::scorer
