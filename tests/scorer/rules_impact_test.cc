// The impact of a proposed rules file, computed by hand: points changed, an
// expiry shortened, a type removed, tiers renamed and moved, base and clamp
// changed, revoked events staying out; and the diff of two rule sets.
#include "scorer/rules_impact.h"

#include <gtest/gtest.h>

#include "scorer/rules_diff.h"
#include "tests/scorer/subject_table_support.h"

namespace tally::scorer {
namespace {

using testing::make_event;

constexpr std::int64_t kDay = 24LL * 3600 * 1000;

std::shared_ptr<const RuleSet> rules(const char* text) {
  auto parsed = parse_rules(text, "test.toml", 1);
  EXPECT_TRUE(parsed) << parsed.status().to_string();
  return *parsed;
}

// base 0, clamp [0, 100]; fine 3 for 100 days, speed 4 forever, credit -2.
constexpr const char* kNow = R"(
[score]
base = 0
min = 0
max = 100
[rules.fine]
points = 3
expires_after = "100d"
[rules.speed]
points = 4
[rules.credit]
points = -2
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
[[tier]]
name = "suspension"
min = 11
)";

class RulesImpactTest : public ::testing::Test {
 protected:
  // Applies an event typed by the live rules (its recorded terms).
  void add(const char* id, const char* subject, const char* type, std::int64_t day,
           const char* revokes = "") {
    const Rule* rule = now_->find(type);
    ASSERT_NE(rule, nullptr) << type;
    table_.apply(make_event(id, subject, *rule, day * kDay, "", revokes));
  }

  api::ImpactAnswer impact(const char* proposal, std::int64_t at_day, std::size_t top = 10) {
    proposal_ = rules(proposal);
    ImpactOptions options;
    options.at_ms = at_day * kDay;
    options.top = top;
    options.rows = std::make_pair(0u, kKeyGroups);
    ImpactTally tally(*now_, *proposal_, options);
    table_.for_each_subject([&](const SubjectState& state) { tally.add(table_, state); });
    return tally.answer();
  }

  static const api::ImpactRow* row_of(const api::ImpactAnswer& answer, const std::string& subject) {
    for (const api::ImpactRow& row : *answer.rows) {
      if (row.subject == subject) return &row;
    }
    return nullptr;
  }

  std::shared_ptr<const RuleSet> now_ = rules(kNow);
  std::shared_ptr<const RuleSet> proposal_;
  InternTable interns_;
  SubjectTable table_{interns_};
};

TEST_F(RulesImpactTest, PointsExpiriesAndRemovedTypesRescoreEveryContribution) {
  add("f1", "a", "fine", 0);    // now: 3 (day 0..100); proposed: 5 until day 30
  add("s1", "a", "speed", 10);  // now: 4 forever; proposed: removed, 0
  add("f2", "b", "fine", 80);   // b: 3 now; 5 proposed (80 + 30 > 90)
  add("c1", "c", "credit", 5);  // c: -2 -> clamp 0 both
  const auto answer = impact(R"(
[score]
min = 0
max = 100
[rules.fine]
points = 5
expires_after = "30d"
[rules.credit]
points = -2
[rules.camera]
points = 1
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "amber"
min = 4
)",
                             90);
  EXPECT_EQ(answer.subjects, 3u);
  // a: now 3 + 4 = 7 (warning); proposed: the fine expired at day 30, speed gone: 0 (clear).
  const api::ImpactRow* a = row_of(answer, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->score_now, 7);
  EXPECT_EQ(a->score_proposed, 0);
  EXPECT_EQ(a->tier_now, "warning");
  EXPECT_EQ(a->tier_proposed, "clear");
  // b: now 3 (clear); proposed 5 (amber).
  const api::ImpactRow* b = row_of(answer, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->score_now, 3);
  EXPECT_EQ(b->score_proposed, 5);
  EXPECT_EQ(b->tier_proposed, "amber");
  EXPECT_EQ(row_of(answer, "c"), nullptr);  // unchanged: 0 and clear both ways
  EXPECT_EQ(answer.changed_score, 2u);
  EXPECT_EQ(answer.changed_tier, 2u);
  EXPECT_EQ(answer.delta.min, -7);
  EXPECT_EQ(answer.delta.max, 2);
  EXPECT_EQ(answer.delta.median, 0);
  EXPECT_EQ(answer.delta.up, 1u);
  EXPECT_EQ(answer.delta.down, 1u);
  ASSERT_EQ(answer.top.size(), 2u);
  EXPECT_EQ(answer.top[0].subject, "a");  // the largest change first
  EXPECT_EQ(answer.top[0].types, (std::vector<std::string>{"fine", "speed"}));
  EXPECT_EQ(answer.top[1].types, (std::vector<std::string>{"fine"}));
  // Per type: speed is not in the proposal; camera is new and unused.
  std::map<std::string, api::ImpactType> types;
  for (const auto& t : answer.types) types[t.type] = t;
  EXPECT_FALSE(types["speed"].in_proposal);
  EXPECT_EQ(types["speed"].events_now, 1u);
  EXPECT_EQ(types["speed"].events_proposed, 0u);
  EXPECT_EQ(types["fine"].events_now, 2u);
  EXPECT_EQ(types["fine"].points_now, 6);
  EXPECT_EQ(types["fine"].events_proposed, 1u);  // f1 expired under the proposal
  EXPECT_EQ(types["fine"].points_proposed, 5);
  EXPECT_FALSE(types["camera"].stored);
  EXPECT_FALSE(types["camera"].in_current);
  EXPECT_EQ(answer.tiers_proposed, (std::vector<std::string>{"clear", "amber"}));
}

TEST_F(RulesImpactTest, BaseClampAndMovedTiersApplyAndRevokedEventsStayOut) {
  add("s1", "a", "speed", 0);
  add("s2", "a", "speed", 1);
  add("s3", "a", "speed", 2);  // a: 12 now (suspension)
  add("s4", "b", "speed", 0);
  add("r4", "b", "revoke", 3, "s4");  // b: 0 now; and 0 under any proposal
  const auto answer = impact(R"(
[score]
base = 1
min = 0
max = 10
[rules.speed]
points = 4
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "suspension"
min = 9
)",
                             10);
  const api::ImpactRow* a = row_of(answer, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->score_now, 12);
  EXPECT_EQ(a->score_proposed, 10);  // 1 + 12, clamped to 10
  EXPECT_EQ(a->tier_proposed, "suspension");
  const api::ImpactRow* b = row_of(answer, "b");
  ASSERT_NE(b, nullptr);  // the base moved it: 0 -> 1
  EXPECT_EQ(b->score_now, 0);
  EXPECT_EQ(b->score_proposed, 1);
  EXPECT_TRUE(answer.top.back().types.empty());  // moved by the base alone
  // The matrix: a stays in suspension; b stays clear; no "warning" under the proposal.
  std::map<std::pair<std::string, std::string>, std::uint64_t> matrix;
  for (const auto& t : answer.transitions) matrix[{t.from, t.to}] = t.count;
  EXPECT_EQ(matrix[std::make_pair(std::string("suspension"), std::string("suspension"))], 1u);
  EXPECT_EQ(matrix[std::make_pair(std::string("clear"), std::string("clear"))], 1u);
  EXPECT_EQ(answer.changed_tier, 0u);
}

TEST_F(RulesImpactTest, ASubjectBelowEveryTierIsInTheEmptyTier) {
  add("s1", "a", "speed", 0);
  const auto answer = impact(R"(
[rules.speed]
points = 4
[[tier]]
name = "high"
min = 5
)",
                             1);
  ASSERT_EQ(answer.transitions.size(), 1u);
  EXPECT_EQ(answer.transitions[0].from, "clear");
  EXPECT_EQ(answer.transitions[0].to, "");
  EXPECT_EQ(answer.changed_tier, 1u);
}

TEST(RulesDiffTest, NamesEveryAddedRemovedAndChangedPart) {
  const auto before = rules(kNow);
  const auto after = rules(R"(
[score]
base = 1
min = 0
max = 100
[rules.fine]
points = 5
expires_after = "100d"
[rules.credit]
points = -2
description = "a credit"
[rules.camera]
points = 1
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 5
)");
  const RulesDiff diff = diff_rules(*before, *after);
  EXPECT_EQ(diff.added, (std::vector<std::string>{"camera"}));
  EXPECT_EQ(diff.removed, (std::vector<std::string>{"speed"}));
  ASSERT_EQ(diff.rules.size(), 2u);
  EXPECT_EQ(diff.rules[0].what, "fine");
  EXPECT_EQ(diff.rules[0].before, "3 points, expires after 100d");
  EXPECT_EQ(diff.rules[0].after, "5 points, expires after 100d");
  EXPECT_EQ(diff.rules[1].what, "credit (description)");
  ASSERT_EQ(diff.score.size(), 1u);
  EXPECT_EQ(diff.score[0].what, "base");
  ASSERT_EQ(diff.tiers.size(), 2u);  // warning moved, suspension removed
  EXPECT_EQ(diff.tiers[0].what, "warning");
  EXPECT_EQ(diff.tiers[1].after, "");
  EXPECT_TRUE(diff_rules(*before, *before).empty());
}

}  // namespace
}  // namespace tally::scorer
