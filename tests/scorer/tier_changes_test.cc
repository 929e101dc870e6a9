// TierChangeFinder, on hand-computed histories: a change when a contribution
// starts and when one expires, revoked contributions never counting, the
// window (after, until] exactly, and which cause is named at a shared instant.
#include "scorer/tier_changes.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/key_groups.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"
#include "scorer/subject_table.h"

namespace tally::scorer {
namespace {

// fine: 4 points for 10 s; minor: 2 points for 20 s; credit: -3, forever.
// Tiers: clear [0, 6), watch [6, 10), suspend [10, ...).
constexpr const char* kRules = R"(
[rules.fine]
points = 4
expires_after = "10s"
[rules.minor]
points = 2
expires_after = "20s"
[rules.credit]
points = -3
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "watch"
min = 6
[[tier]]
name = "suspend"
min = 10
)";

// A TierChange with its views copied, to compare and print.
struct Change {
  std::int64_t time_ms;
  std::string from;
  std::string to;
  std::int64_t score;
  std::string cause_id;
  bool by_expiry;
  bool operator==(const Change&) const = default;
};

void PrintTo(const Change& c, std::ostream* out) {
  *out << fmt::format("{{{} {}->{} score {} cause {}{}}}", c.time_ms, c.from, c.to, c.score,
                      c.cause_id, c.by_expiry ? " (expiry)" : "");
}

class TierChangeFinderTest : public ::testing::Test {
 protected:
  void add(std::string_view id, std::string_view type, std::int64_t time_ms,
           std::string_view revokes = "") {
    Event event;
    event.id.assign(id);
    event.subject.assign("plate:NY:T1");
    event.revokes.assign(revokes);
    event.type = rules_->resolve(type);
    ASSERT_NE(event.type, nullptr) << type;
    event.time_ms = time_ms;
    event.subject_hash = stable_hash64(event.subject.view());
    table_.apply(event);
  }

  std::vector<Change> changes(std::int64_t after_ms, std::int64_t until_ms,
                              TierChangeFinder::Causes causes = TierChangeFinder::Causes::kAll) {
    std::vector<Change> out;
    const SubjectState* state = table_.find("plate:NY:T1");
    if (state == nullptr) return out;
    finder_.find(table_, *state, *rules_, after_ms, until_ms, causes, [&](const TierChange& c) {
      out.push_back({c.time_ms, std::string(c.from), std::string(c.to), c.score,
                     std::string(c.cause_id), c.by_expiry});
    });
    return out;
  }

  std::shared_ptr<const RuleSet> rules_ = parse_rules(kRules, "tier_changes_test.toml", 1).value();
  InternTable interns_;
  SubjectTable table_{interns_};
  TierChangeFinder finder_;
};

constexpr std::int64_t kBefore = -1'000'000;
constexpr std::int64_t kAfter = 1'000'000;

TEST_F(TierChangeFinderTest, ChangesWhenAContributionStartsAndWhenOneExpires) {
  add("f1", "fine", 1000);   // 4 during [1000, 11000)
  add("m1", "minor", 3000);  // 2 during [3000, 23000)
  // 1000: 4 (clear, no change); 3000: 6 (watch); 11000: 2 (clear); 23000: 0.
  const std::vector<Change> expected = {{3000, "clear", "watch", 6, "m1", false},
                                        {11000, "watch", "clear", 2, "f1", true}};
  EXPECT_EQ(changes(kBefore, kAfter), expected);
}

TEST_F(TierChangeFinderTest, ExpiriesOnlyLeavesOutChangesThatAnEventCaused) {
  add("f1", "fine", 1000);
  add("m1", "minor", 3000);
  add("f2", "fine", 30000);  // 4 during [30000, 40000)
  add("f3", "fine", 32000);  // 8 during [32000, 40000) (watch), then 4 until 42000
  // Starts at 3000 and 32000 change tiers, but only expiries are asked for:
  // 11000 (f1: watch -> clear) and 40000 (f2: 8 -> 4, watch -> clear).
  const std::vector<Change> expected = {{11000, "watch", "clear", 2, "f1", true},
                                        {40000, "watch", "clear", 4, "f2", true}};
  EXPECT_EQ(changes(kBefore, kAfter, TierChangeFinder::Causes::kExpiriesOnly), expected);
  EXPECT_EQ(changes(kBefore, kAfter).size(), 4u);
}

TEST_F(TierChangeFinderTest, RevokedContributionsNeverCount) {
  add("r2", "revoke", 4000, "f2");  // arrives before its target
  add("f1", "fine", 1000);
  add("m1", "minor", 3000);
  add("f2", "fine", 5000);  // would make 10 (suspend) in [5000, 11000): revoked
  add("f3", "fine", 6000);  // 10 at 6000 ... revoked below, after it arrived
  add("r3", "revoke", 7000, "f3");
  const std::vector<Change> expected = {{3000, "clear", "watch", 6, "m1", false},
                                        {11000, "watch", "clear", 2, "f1", true}};
  EXPECT_EQ(changes(kBefore, kAfter), expected);
  // Their expiries (15000, 16000) are no instants either: the sweep skips them.
  EXPECT_TRUE(changes(11000, 20000, TierChangeFinder::Causes::kExpiriesOnly).empty());
}

TEST_F(TierChangeFinderTest, TheWindowIsOpenBeforeAndClosedAfter) {
  add("f1", "fine", 1000);
  add("m1", "minor", 3000);
  const Change start{3000, "clear", "watch", 6, "m1", false};
  const Change expiry{11000, "watch", "clear", 2, "f1", true};
  EXPECT_EQ(changes(2999, 3000), std::vector<Change>{start});
  EXPECT_TRUE(changes(3000, 10999).empty());
  EXPECT_EQ(changes(3000, 11000), std::vector<Change>{expiry});
  EXPECT_EQ(changes(10999, 11000, TierChangeFinder::Causes::kExpiriesOnly),
            std::vector<Change>{expiry});
  EXPECT_TRUE(changes(11000, kAfter).empty());
  EXPECT_TRUE(changes(kBefore, 2999).empty());
}

TEST_F(TierChangeFinderTest, CreditsCountAndAScoreBelowEveryTierHasNone) {
  add("c1", "credit", 0);    // -3 from 0, forever: below every tier
  add("f1", "fine", 1000);   // 1: clear
  add("f2", "fine", 2000);   // 5
  add("f3", "fine", 2500);   // 9: watch
  add("m1", "minor", 2600);  // 11: suspend, until f1 expires at 11000
  const std::vector<Change> expected = {
      {0, "clear", "", -3, "c1", false},          {1000, "", "clear", 1, "f1", false},
      {2500, "clear", "watch", 9, "f3", false},   {2600, "watch", "suspend", 11, "m1", false},
      {11000, "suspend", "watch", 7, "f1", true}, {12000, "watch", "clear", 3, "f2", true},
      {12500, "clear", "", -1, "f3", true}};
  EXPECT_EQ(changes(kBefore, kAfter), expected);
}

TEST_F(TierChangeFinderTest, AtASharedInstantAStartIsNamedBeforeAnExpiryAndByItsId) {
  add("x", "fine", 0);      // [0, 10000)
  add("m0", "minor", 0);    // [0, 20000): 6 from 0 (watch), named "m0" before "x"
  add("b", "minor", 5000);  // [5000, 25000)
  add("a", "minor", 5000);  // 10 from 5000 (suspend): named "a", the smaller id
  // At 10000 x expires (-4) and y starts (+2): 8, suspend -> watch; both
  // caused it; the start is named.
  add("y", "minor", 10000);
  // 20000: m0 expires, 6 (still watch); 25000: a and b expire, 2 (clear).
  const std::vector<Change> expected = {{0, "clear", "watch", 6, "m0", false},
                                        {5000, "watch", "suspend", 10, "a", false},
                                        {10000, "suspend", "watch", 8, "y", false},
                                        {25000, "watch", "clear", 2, "a", true}};
  EXPECT_EQ(changes(kBefore, kAfter), expected);
}

}  // namespace
}  // namespace tally::scorer
