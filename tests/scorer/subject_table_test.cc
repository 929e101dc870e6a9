// SubjectTable: every rule of the brief's scoring semantics, explain views,
// and growth of busy subjects. Purge: subject_table_purge_test.cc; order
// independence: subject_table_order_test.cc.
#include "scorer/subject_table.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/scorer/subject_table_support.h"

namespace tally::scorer {
namespace {

using testing::make_event;
using testing::make_rule;
using testing::SubjectTableTest;

TEST_F(SubjectTableTest, UnknownSubjectHoldsNothing) {
  EXPECT_EQ(table_.find("nobody"), nullptr);
  EXPECT_EQ(table_.subjects(), 0u);
}

TEST_F(SubjectTableTest, PointsComeFromTheRule) {
  EXPECT_EQ(apply(make_event("a", "s", fine_, 10)), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("b", "s", credit_, 20)), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("c", "s", big_, 30)), ApplyOutcome::kAccepted);
  EXPECT_EQ(score("s", 30), 3 - 2 + 10);
  EXPECT_EQ(active("s", 30), 3u);
  EXPECT_EQ(table_.subjects(), 1u);
}

TEST_F(SubjectTableTest, AppliedStateIsTheEventsSubject) {
  const auto applied = table_.apply(make_event("a", "plate:NY:ABC1234", fine_, 10));
  ASSERT_NE(applied.state, nullptr);
  EXPECT_EQ(SubjectTable::subject_of(*applied.state), "plate:NY:ABC1234");
  EXPECT_EQ(table_.score_at(*applied.state, 10).raw, 3);
  EXPECT_EQ(applied.state, table_.find("plate:NY:ABC1234"));
}

TEST_F(SubjectTableTest, ExpiryBoundaryIsHalfOpen) {
  apply(make_event("a", "s", fine_, 1000));  // counts for [1000, 1100)
  EXPECT_EQ(score("s", 999), 0);
  EXPECT_EQ(score("s", 1000), 3);
  EXPECT_EQ(score("s", 1099), 3);
  EXPECT_EQ(score("s", 1100), 0);
  EXPECT_EQ(active("s", 1100), 0u);
  const auto listed = contributions("s");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].expires_ms, 1100);
}

TEST_F(SubjectTableTest, NoExpiryCountsForever) {
  apply(make_event("a", "s", credit_, 5));
  EXPECT_EQ(score("s", 4), 0);
  EXPECT_EQ(score("s", 5), -2);
  EXPECT_EQ(score("s", kNever - 1), -2);
  EXPECT_EQ(contributions("s")[0].expires_ms, kNever);
}

TEST_F(SubjectTableTest, ExpiryThatWouldOverflowNeverExpires) {
  const Rule long_rule = make_rule("long", 1, kNever - 10);
  apply(make_event("a", "s", long_rule, 1000));
  EXPECT_EQ(contributions("s")[0].expires_ms, kNever);
  EXPECT_EQ(score("s", kNever - 1), 1);
}

TEST_F(SubjectTableTest, AtAnswersForThePastAndTheFuture) {
  apply(make_event("a", "s", fine_, 100));    // [100, 200)
  apply(make_event("b", "s", big_, 150));     // [150, 1150)
  apply(make_event("c", "s", credit_, 300));  // [300, never)
  EXPECT_EQ(score("s", 50), 0);
  EXPECT_EQ(score("s", 120), 3);
  EXPECT_EQ(score("s", 160), 13);
  EXPECT_EQ(score("s", 250), 10);
  EXPECT_EQ(score("s", 300), 8);
  EXPECT_EQ(score("s", 1150), -2);
  EXPECT_EQ(score("s", 1'000'000'000), -2);
}

TEST_F(SubjectTableTest, RevokeAfterTargetRemovesItAtEveryTime) {
  apply(make_event("a", "s", big_, 100, "cam-1"));
  apply(make_event("b", "s", fine_, 120));
  EXPECT_EQ(score("s", 120), 13);
  EXPECT_EQ(apply(make_event("r", "s", revoke_, 500, "appeals", "a")), ApplyOutcome::kAccepted);
  // As if never accepted: also for times before the revoke.
  EXPECT_EQ(score("s", 100), 0);
  EXPECT_EQ(score("s", 120), 3);
  EXPECT_EQ(active("s", 120), 1u);
  const SubjectState& state = *table_.find("s");
  const auto listed = contributions(state);
  ASSERT_EQ(listed.size(), 2u);  // kept for explain
  EXPECT_EQ(listed[0].id, "a");
  EXPECT_TRUE(listed[0].revoked);
  EXPECT_EQ(listed[0].revoked_by, "r");
  EXPECT_EQ(listed[0].revoke_source, "appeals");
  EXPECT_EQ(listed[0].revoked_at_ms, 500);
  EXPECT_EQ(listed[0].source, "cam-1");
  EXPECT_FALSE(listed[1].revoked);
  EXPECT_TRUE(pending(state).empty());
}

TEST_F(SubjectTableTest, RevokeBeforeTargetRecordsTheTargetRevoked) {
  EXPECT_EQ(apply(make_event("r", "s", revoke_, 50, "appeals", "a")), ApplyOutcome::kAccepted);
  ASSERT_NE(table_.find("s"), nullptr);
  const auto waiting = pending("s");
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].id, "r");
  EXPECT_EQ(waiting[0].target, "a");
  EXPECT_EQ(waiting[0].source, "appeals");
  EXPECT_EQ(waiting[0].time_ms, 50);

  EXPECT_EQ(apply(make_event("a", "s", big_, 100)), ApplyOutcome::kAccepted);
  EXPECT_EQ(score("s", 100), 0);
  EXPECT_EQ(active("s", 100), 0u);
  const SubjectState& state = *table_.find("s");
  EXPECT_TRUE(pending(state).empty());  // the tombstone resolved
  const auto listed = contributions(state);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].revoked);
  EXPECT_EQ(listed[0].revoked_by, "r");
  EXPECT_EQ(listed[0].revoked_at_ms, 50);
}

TEST_F(SubjectTableTest, RevokeOfUnknownTargetStaysPending) {
  apply(make_event("a", "s", fine_, 100));
  apply(make_event("r", "s", revoke_, 150, "", "nope"));
  EXPECT_EQ(score("s", 100), 3);
  const auto waiting = pending("s");
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].target, "nope");
  // A revoke alone still makes a subject (its id is a seen id).
  apply(make_event("r2", "t", revoke_, 150, "", "x"));
  ASSERT_NE(table_.find("t"), nullptr);
  EXPECT_EQ(table_.score_at(*table_.find("t"), 150).raw, 0);
  EXPECT_EQ(table_.subjects(), 2u);
}

TEST_F(SubjectTableTest, DuplicateIdsAreCountedOnce) {
  EXPECT_EQ(apply(make_event("a", "s", fine_, 100)), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("a", "s", fine_, 100)), ApplyOutcome::kDuplicate);
  // The id decides, not the content.
  EXPECT_EQ(apply(make_event("a", "s", big_, 300)), ApplyOutcome::kDuplicate);
  EXPECT_EQ(score("s", 100), 3);
  EXPECT_EQ(contributions("s").size(), 1u);

  EXPECT_EQ(apply(make_event("r", "s", revoke_, 200, "", "zzz")), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("r", "s", revoke_, 200, "", "zzz")), ApplyOutcome::kDuplicate);
  // A revoke's id is seen: a normal event with it is a duplicate, and a revoke
  // with a contribution's id is one too (and revokes nothing).
  EXPECT_EQ(apply(make_event("r", "s", fine_, 100)), ApplyOutcome::kDuplicate);
  EXPECT_EQ(apply(make_event("a", "s", revoke_, 200, "", "a")), ApplyOutcome::kDuplicate);
  EXPECT_EQ(score("s", 100), 3);
  EXPECT_EQ(pending("s").size(), 1u);

  // Ids are per subject.
  EXPECT_EQ(apply(make_event("a", "other", fine_, 100)), ApplyOutcome::kAccepted);
}

TEST_F(SubjectTableTest, SecondRevokeKeepsTheEarliestRevocation) {
  const auto later = make_event("r-late", "s", revoke_, 900, "office-b", "a");
  const auto earlier = make_event("r-early", "s", revoke_, 400, "office-a", "a");
  const auto target = make_event("a", "s", big_, 100);
  std::vector<Event> events = {later, earlier, target};
  std::sort(events.begin(), events.end(),
            [](const Event& x, const Event& y) { return x.id.view() < y.id.view(); });
  std::string first;
  do {
    SubjectTable table(interns_);
    for (const auto& event : events) EXPECT_EQ(table.apply(event).outcome, ApplyOutcome::kAccepted);
    const auto listed = testing::contributions(table, *table.find("s"));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].revoked_by, "r-early");
    EXPECT_EQ(listed[0].revoke_source, "office-a");
    EXPECT_EQ(listed[0].revoked_at_ms, 400);
    EXPECT_TRUE(testing::pending(table, *table.find("s")).empty());
    EXPECT_EQ(table.score_at(*table.find("s"), 100).raw, 0);
    if (first.empty()) first = testing::describe(table, table.find("s"));
    EXPECT_EQ(testing::describe(table, table.find("s")), first);
  } while (std::next_permutation(events.begin(), events.end(), [](const Event& x, const Event& y) {
    return x.id.view() < y.id.view();
  }));

  // Same time: the smaller id is the recorded one.
  apply(make_event("r2", "t", revoke_, 400, "", "a"));
  apply(make_event("r1", "t", revoke_, 400, "", "a"));
  apply(make_event("a", "t", big_, 100));
  EXPECT_EQ(contributions("t")[0].revoked_by, "r1");
}

TEST_F(SubjectTableTest, RevokeOfARevokeChangesNoScore) {
  apply(make_event("a", "s", big_, 100));
  apply(make_event("r1", "s", revoke_, 200, "", "a"));
  EXPECT_EQ(apply(make_event("r2", "s", revoke_, 300, "", "r1")), ApplyOutcome::kAccepted);
  EXPECT_EQ(score("s", 150), 0);  // a stays revoked
  EXPECT_EQ(apply(make_event("r2", "s", revoke_, 300, "", "r1")), ApplyOutcome::kDuplicate);
}

TEST_F(SubjectTableTest, ListingsAreInTimeThenIdOrder) {
  apply(make_event("m", "s", fine_, 200, "cam-2"));
  apply(make_event("z", "s", big_, 100));
  apply(make_event("b", "s", credit_, 200, "cam-1"));
  apply(make_event("a", "s", fine_, 300));
  apply(make_event("p2", "s", revoke_, 50, "", "x"));
  apply(make_event("p1", "s", revoke_, 50, "", "y"));
  apply(make_event("p0", "s", revoke_, 60, "", "y"));
  const auto listed = contributions("s");
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0].id, "z");
  EXPECT_EQ(listed[1].id, "b");
  EXPECT_EQ(listed[2].id, "m");
  EXPECT_EQ(listed[3].id, "a");
  EXPECT_EQ(listed[1].type, "credit");
  EXPECT_EQ(listed[1].rules_version, 7u);
  EXPECT_EQ(listed[1].points, -2);
  EXPECT_EQ(listed[1].time_ms, 200);
  EXPECT_EQ(listed[1].expires_ms, kNever);
  EXPECT_EQ(listed[1].source, "cam-1");
  EXPECT_FALSE(listed[1].revoked);
  EXPECT_EQ(listed[2].expires_ms, 300);
  const auto waiting = pending("s");
  ASSERT_EQ(waiting.size(), 3u);
  EXPECT_EQ(waiting[0].id, "p1");
  EXPECT_EQ(waiting[1].id, "p2");
  EXPECT_EQ(waiting[2].id, "p0");
}

TEST_F(SubjectTableTest, LongestFieldsRoundTrip) {
  const std::string id(kMaxIdBytes, 'i');
  const std::string subject(kMaxSubjectBytes, 's');
  const std::string source(kMaxSourceBytes, 'c');
  apply(make_event(id, subject, fine_, 100, source));
  const std::string revoke_id(kMaxIdBytes, 'r');
  apply(make_event(revoke_id, subject, revoke_, 100, source, std::string(kMaxIdBytes, 'x')));
  const SubjectState& state = *table_.find(subject);
  EXPECT_EQ(SubjectTable::subject_of(state), subject);
  const auto listed = contributions(state);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_EQ(listed[0].source, source);
  const auto waiting = pending(state);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].id, revoke_id);
  EXPECT_EQ(waiting[0].target, std::string(kMaxIdBytes, 'x'));
  EXPECT_EQ(waiting[0].source, source);
  EXPECT_EQ(table_.score_at(state, 100).raw, 3);
}

TEST_F(SubjectTableTest, BusySubjectGrowsAndShrinks) {
  // Hundreds of records take a subject out of the small size classes and back.
  for (int i = 0; i < 600; ++i) {
    const Rule& rule = i % 2 == 0 ? fine_ : credit_;
    ASSERT_EQ(apply(make_event(fmt::format("e{:04}", i), "busy", rule, i * 10, "cam")),
              ApplyOutcome::kAccepted);
    ASSERT_EQ(apply(make_event("e0000", "busy", fine_, 0)), ApplyOutcome::kDuplicate);
  }
  for (int i = 0; i < 600; i += 3) {
    apply(
        make_event(fmt::format("r{:04}", i), "busy", revoke_, 9000, "", fmt::format("e{:04}", i)));
  }
  // At 3000: fines in (2900, 3000] that are not revoked, and all unrevoked credits so far.
  std::int64_t expected = 0;
  for (int i = 0; i < 600; ++i) {
    const std::int64_t time = i * 10;
    if (i % 3 == 0 || time > 3000) continue;
    if (i % 2 == 0) {
      if (3000 < time + 100) expected += 3;
    } else {
      expected -= 2;
    }
  }
  EXPECT_EQ(score("busy", 3000), expected);
  EXPECT_EQ(contributions("busy").size(), 600u);
  const std::size_t grown = table_.memory_bytes();

  // Every fine expired long ago; credits never expire.
  EXPECT_EQ(table_.purge(1'000'000, 1000), 0u);
  EXPECT_EQ(contributions("busy").size(), 300u);
  std::int64_t credits = 0;
  for (int i = 1; i < 600; i += 2) {
    if (i % 3 != 0) credits -= 2;
  }
  EXPECT_EQ(score("busy", 1'000'000), credits);
  // Revokes of dropped fines are gone (their time is past retention); those of
  // credits remain.
  EXPECT_TRUE(pending("busy").empty());
  EXPECT_EQ(apply(make_event("r0003", "busy", revoke_, 9000, "", "e0003")),
            ApplyOutcome::kDuplicate);
  EXPECT_EQ(apply(make_event("r0000", "busy", revoke_, 9000, "", "e0000")),
            ApplyOutcome::kAccepted);
  EXPECT_LE(table_.memory_bytes(), grown);
}

TEST_F(SubjectTableTest, ManySubjects) {
  constexpr int kSubjects = 20000;
  for (int i = 0; i < kSubjects; ++i) {
    const std::string subject = fmt::format("plate:NY:{:07}", i);
    ASSERT_EQ(apply(make_event(fmt::format("id-{}", i), subject, i % 3 == 0 ? big_ : credit_, i)),
              ApplyOutcome::kAccepted);
    if (i % 2 == 0) apply(make_event(fmt::format("id2-{}", i), subject, fine_, i + 1, "cam-9"));
  }
  EXPECT_EQ(table_.subjects(), static_cast<std::size_t>(kSubjects));
  for (int i = 0; i < kSubjects; ++i) {
    const std::string subject = fmt::format("plate:NY:{:07}", i);
    const SubjectState* state = table_.find(subject);
    ASSERT_NE(state, nullptr) << subject;
    ASSERT_EQ(SubjectTable::subject_of(*state), subject);
    const std::int64_t expected = (i % 3 == 0 ? 10 : -2) + (i % 2 == 0 ? 3 : 0);
    ASSERT_EQ(table_.score_at(*state, i + 1).raw, expected) << subject;
  }
  std::size_t visited = 0;
  table_.for_each_subject([&](const SubjectState&) { ++visited; });
  EXPECT_EQ(visited, static_cast<std::size_t>(kSubjects));
  const double per_subject = static_cast<double>(table_.memory_bytes()) / kSubjects;
  EXPECT_GT(per_subject, 40.0);
  EXPECT_LT(per_subject, 160.0);
}

TEST_F(SubjectTableTest, VeryBusySubjectIsOrderIndependent) {
  // Tens of kilobytes of records: the blob's header is widened on the way, by a
  // contribution in one arrival order and by a revoke in another.
  std::vector<Event> events;
  std::mt19937_64 random(5);
  for (int i = 0; i < 2500; ++i) {
    const Rule& rule = i % 3 == 0 ? credit_ : (i % 3 == 1 ? fine_ : big_);
    events.push_back(make_event(fmt::format("event-{:05}", i), "fleet:ACME", rule,
                                static_cast<std::int64_t>(random() % 20000), "DEPOT-CAMERA"));
  }
  for (int i = 0; i < 1200; ++i) {
    const std::string target = fmt::format("event-{:05}", random() % 3000);  // some unknown
    events.push_back(make_event(fmt::format("revoke-{:05}", i), "fleet:ACME", revoke_,
                                static_cast<std::int64_t>(random() % 20000), "appeals", target));
  }
  std::string reference;
  for (int order = 0; order < 3; ++order) {
    std::shuffle(events.begin(), events.end(), random);
    SubjectTable table(interns_);
    for (const auto& event : events) ASSERT_EQ(table.apply(event).outcome, ApplyOutcome::kAccepted);
    const std::string print = testing::describe(table, table.find("fleet:ACME"));
    if (order == 0) reference = print;
    EXPECT_EQ(print, reference);
    std::set<std::string> revoked;
    for (const auto& event : events) {
      if (event.type->is_revoke) revoked.emplace(event.revokes.view());
    }
    for (const std::int64_t at : {0, 5000, 19999, 30000}) {
      std::int64_t expected = 0;
      for (const auto& event : events) {
        if (event.type->is_revoke || revoked.contains(std::string(event.id.view()))) continue;
        const std::int64_t after = event.type->expires_after_ms;
        if (event.time_ms <= at && (after == kNever || at < event.time_ms + after)) {
          expected += event.type->points;
        }
      }
      EXPECT_EQ(table.score_at(*table.find("fleet:ACME"), at).raw, expected) << at;
    }
    // Purging every expiring contribution shrinks it; what never expires stays.
    table.purge(1'000'000, 0);
    const auto left = testing::contributions(table, *table.find("fleet:ACME"));
    EXPECT_EQ(left.size(), 834u);  // the credits: i % 3 == 0 for i < 2500
    for (const auto& c : left) EXPECT_EQ(c.type, "credit");
  }
}

TEST_F(SubjectTableTest, HeaderWidensOnARevokeAsOnAContribution) {
  // ~31 KB of contributions, then revokes that take the blob past 32 KB; and
  // the same events the other way round, where a contribution widens it.
  std::vector<Event> contributions_first;
  for (int i = 0; i < 1300; ++i) {
    contributions_first.push_back(
        make_event(fmt::format("event-{:05}", i), "fleet", i % 2 == 0 ? credit_ : big_, i, "cam"));
  }
  for (int i = 0; i < 200; ++i) {
    contributions_first.push_back(make_event(fmt::format("revoke-{:05}", i), "fleet", revoke_, i,
                                             "", fmt::format("event-{:05}", i * 3)));
  }
  SubjectTable forward(interns_);
  for (const auto& event : contributions_first) forward.apply(event);
  SubjectTable backward(interns_);
  for (auto it = contributions_first.rbegin(); it != contributions_first.rend(); ++it) {
    backward.apply(*it);
  }
  EXPECT_EQ(testing::describe(forward, forward.find("fleet")),
            testing::describe(backward, backward.find("fleet")));
  std::int64_t expected = 0;
  for (int i = 0; i < 1300; ++i) {
    const bool revoked = i % 3 == 0 && i / 3 < 200;
    if (!revoked && (i % 2 == 0 || 1299 < i + 1000)) expected += i % 2 == 0 ? -2 : 10;
  }
  EXPECT_EQ(forward.score_at(*forward.find("fleet"), 1299).raw, expected);
  EXPECT_EQ(backward.score_at(*backward.find("fleet"), 1299).raw, expected);
}

// A table told how many subjects to expect has its index at that size from
// the start (its footprint says so), and holds them without growing it.
TEST(SubjectTableSizingTest, ATableSizedForItsSubjectsNeverGrowsItsIndex) {
  InternTable interns;
  SubjectTableOptions options;
  options.expected_subjects = 100'000;
  SubjectTable sized(interns, options);
  SubjectTable growing(interns);
  EXPECT_GE(sized.memory_bytes(), growing.memory_bytes() + 100'000 * (1 + sizeof(std::uint32_t)));
  const std::size_t at_start = sized.memory_bytes();
  const Rule rule = make_rule("fine", 3, 1000);
  for (int i = 0; i < 1000; ++i) {
    sized.apply(make_event(fmt::format("e{}", i), fmt::format("plate:NY:{}", i), rule, 1000));
  }
  EXPECT_EQ(sized.subjects(), 1000u);
  EXPECT_LT(sized.memory_bytes() - at_start, 1000u * 64);  // blobs only: the index did not move
}

}  // namespace
}  // namespace tally::scorer
