// SubjectTable: every rule of the brief's scoring semantics, purge bounds,
// explain views, and order independence (across arrival orders and across
// worker counts). Rules are built directly, without parsing a rules file.
#include "scorer/subject_table.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "stream/key_groups.h"

namespace tally::scorer {
namespace {

using stream::kNever;

Rule make_rule(std::string name, std::int32_t points, std::int64_t expires_after_ms,
               bool is_revoke = false) {
  Rule rule;
  rule.name = std::move(name);
  rule.points = points;
  rule.expires_after_ms = expires_after_ms;
  rule.is_revoke = is_revoke;
  rule.rules_version = 7;
  return rule;
}

stream::Event make_event(std::string_view id, std::string_view subject, const Rule& rule,
                         std::int64_t time_ms, std::string_view source = "",
                         std::string_view revokes = "") {
  stream::Event event;
  EXPECT_TRUE(event.id.assign(id));
  EXPECT_TRUE(event.subject.assign(subject));
  EXPECT_TRUE(event.source.assign(source));
  EXPECT_TRUE(event.revokes.assign(revokes));
  event.type = &rule;
  event.time_ms = time_ms;
  event.subject_hash = stream::stable_hash64(subject);
  return event;
}

std::vector<ContributionView> contributions(const SubjectState& state) {
  std::vector<ContributionView> out;
  SubjectTable::for_each_contribution(state, [&](const ContributionView& c) { out.push_back(c); });
  return out;
}

std::vector<PendingRevokeView> pending(const SubjectState& state) {
  std::vector<PendingRevokeView> out;
  SubjectTable::for_each_pending_revoke(state,
                                        [&](const PendingRevokeView& r) { out.push_back(r); });
  return out;
}

// Everything explain shows about a subject, as text, for comparisons.
std::string describe(const SubjectState* state) {
  if (state == nullptr) return "<none>";
  std::string out = fmt::format("subject {}\n", SubjectTable::subject_of(*state));
  SubjectTable::for_each_contribution(*state, [&](const ContributionView& c) {
    out += fmt::format("  c id={} type={} v={} points={} time={} expires={} source={}", c.id,
                       c.type, c.rules_version, c.points, c.time_ms, c.expires_ms, c.source);
    if (c.revoked) {
      out += fmt::format(" revoked_by={} revoke_source={} revoked_at={}", c.revoked_by,
                         c.revoke_source, c.revoked_at_ms);
    }
    out += "\n";
  });
  SubjectTable::for_each_pending_revoke(*state, [&](const PendingRevokeView& r) {
    out +=
        fmt::format("  p id={} target={} source={} time={}\n", r.id, r.target, r.source, r.time_ms);
  });
  return out;
}

class SubjectTableTest : public ::testing::Test {
 protected:
  std::int64_t score(std::string_view subject, std::int64_t at_ms) const {
    const SubjectState* state = table_.find(subject);
    return state == nullptr ? 0 : SubjectTable::score_at(*state, at_ms).raw;
  }
  std::uint32_t active(std::string_view subject, std::int64_t at_ms) const {
    const SubjectState* state = table_.find(subject);
    return state == nullptr ? 0 : SubjectTable::score_at(*state, at_ms).active;
  }
  ApplyOutcome apply(const stream::Event& event) { return table_.apply(event).outcome; }

  const Rule fine_ = make_rule("fine", 3, 100);          // counts for 100 ms
  const Rule credit_ = make_rule("credit", -2, kNever);  // never expires
  const Rule big_ = make_rule("big", 10, 1000);
  const Rule revoke_ = make_rule("revoke", 0, kNever, true);
  SubjectTable table_;
};

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
  EXPECT_EQ(SubjectTable::score_at(*applied.state, 10).raw, 3);
  EXPECT_EQ(applied.state, table_.find("plate:NY:ABC1234"));
}

TEST_F(SubjectTableTest, ExpiryBoundaryIsHalfOpen) {
  apply(make_event("a", "s", fine_, 1000));  // counts for [1000, 1100)
  EXPECT_EQ(score("s", 999), 0);
  EXPECT_EQ(score("s", 1000), 3);
  EXPECT_EQ(score("s", 1099), 3);
  EXPECT_EQ(score("s", 1100), 0);
  EXPECT_EQ(active("s", 1100), 0u);
  const auto listed = contributions(*table_.find("s"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].expires_ms, 1100);
}

TEST_F(SubjectTableTest, NoExpiryCountsForever) {
  apply(make_event("a", "s", credit_, 5));
  EXPECT_EQ(score("s", 4), 0);
  EXPECT_EQ(score("s", 5), -2);
  EXPECT_EQ(score("s", kNever - 1), -2);
  EXPECT_EQ(contributions(*table_.find("s"))[0].expires_ms, kNever);
}

TEST_F(SubjectTableTest, ExpiryThatWouldOverflowNeverExpires) {
  const Rule long_rule = make_rule("long", 1, kNever - 10);
  apply(make_event("a", "s", long_rule, 1000));
  EXPECT_EQ(contributions(*table_.find("s"))[0].expires_ms, kNever);
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
  const auto waiting = pending(*table_.find("s"));
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
  const auto waiting = pending(*table_.find("s"));
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].target, "nope");
  // A revoke alone still makes a subject (its id is a seen id).
  apply(make_event("r2", "t", revoke_, 150, "", "x"));
  ASSERT_NE(table_.find("t"), nullptr);
  EXPECT_EQ(SubjectTable::score_at(*table_.find("t"), 150).raw, 0);
  EXPECT_EQ(table_.subjects(), 2u);
}

TEST_F(SubjectTableTest, DuplicateIdsAreCountedOnce) {
  EXPECT_EQ(apply(make_event("a", "s", fine_, 100)), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("a", "s", fine_, 100)), ApplyOutcome::kDuplicate);
  // The id decides, not the content.
  EXPECT_EQ(apply(make_event("a", "s", big_, 300)), ApplyOutcome::kDuplicate);
  EXPECT_EQ(score("s", 100), 3);
  EXPECT_EQ(contributions(*table_.find("s")).size(), 1u);

  EXPECT_EQ(apply(make_event("r", "s", revoke_, 200, "", "zzz")), ApplyOutcome::kAccepted);
  EXPECT_EQ(apply(make_event("r", "s", revoke_, 200, "", "zzz")), ApplyOutcome::kDuplicate);
  // A revoke's id is seen: a normal event with it is a duplicate, and a revoke
  // with a contribution's id is one too (and revokes nothing).
  EXPECT_EQ(apply(make_event("r", "s", fine_, 100)), ApplyOutcome::kDuplicate);
  EXPECT_EQ(apply(make_event("a", "s", revoke_, 200, "", "a")), ApplyOutcome::kDuplicate);
  EXPECT_EQ(score("s", 100), 3);
  EXPECT_EQ(pending(*table_.find("s")).size(), 1u);

  // Ids are per subject.
  EXPECT_EQ(apply(make_event("a", "other", fine_, 100)), ApplyOutcome::kAccepted);
}

TEST_F(SubjectTableTest, SecondRevokeKeepsTheEarliestRevocation) {
  const auto later = make_event("r-late", "s", revoke_, 900, "office-b", "a");
  const auto earlier = make_event("r-early", "s", revoke_, 400, "office-a", "a");
  const auto target = make_event("a", "s", big_, 100);
  std::vector<stream::Event> events = {later, earlier, target};
  std::sort(events.begin(), events.end(), [](const stream::Event& x, const stream::Event& y) {
    return x.id.view() < y.id.view();
  });
  std::string first;
  do {
    SubjectTable table;
    for (const auto& event : events) EXPECT_EQ(table.apply(event).outcome, ApplyOutcome::kAccepted);
    const auto listed = contributions(*table.find("s"));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].revoked_by, "r-early");
    EXPECT_EQ(listed[0].revoke_source, "office-a");
    EXPECT_EQ(listed[0].revoked_at_ms, 400);
    EXPECT_TRUE(pending(*table.find("s")).empty());
    EXPECT_EQ(SubjectTable::score_at(*table.find("s"), 100).raw, 0);
    if (first.empty()) first = describe(table.find("s"));
    EXPECT_EQ(describe(table.find("s")), first);
  } while (std::next_permutation(
      events.begin(), events.end(),
      [](const stream::Event& x, const stream::Event& y) { return x.id.view() < y.id.view(); }));

  // Same time: the smaller id is the recorded one.
  apply(make_event("r2", "t", revoke_, 400, "", "a"));
  apply(make_event("r1", "t", revoke_, 400, "", "a"));
  apply(make_event("a", "t", big_, 100));
  EXPECT_EQ(contributions(*table_.find("t"))[0].revoked_by, "r1");
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
  const auto listed = contributions(*table_.find("s"));
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
  const auto waiting = pending(*table_.find("s"));
  ASSERT_EQ(waiting.size(), 3u);
  EXPECT_EQ(waiting[0].id, "p1");
  EXPECT_EQ(waiting[1].id, "p2");
  EXPECT_EQ(waiting[2].id, "p0");
}

TEST_F(SubjectTableTest, LongestFieldsRoundTrip) {
  const std::string id(stream::kMaxIdBytes, 'i');
  const std::string subject(stream::kMaxSubjectBytes, 's');
  const std::string source(stream::kMaxSourceBytes, 'c');
  apply(make_event(id, subject, fine_, 100, source));
  const std::string revoke_id(stream::kMaxIdBytes, 'r');
  apply(
      make_event(revoke_id, subject, revoke_, 100, source, std::string(stream::kMaxIdBytes, 'x')));
  const SubjectState& state = *table_.find(subject);
  EXPECT_EQ(SubjectTable::subject_of(state), subject);
  const auto listed = contributions(state);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_EQ(listed[0].source, source);
  const auto waiting = pending(state);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].id, revoke_id);
  EXPECT_EQ(waiting[0].target, std::string(stream::kMaxIdBytes, 'x'));
  EXPECT_EQ(waiting[0].source, source);
  EXPECT_EQ(SubjectTable::score_at(state, 100).raw, 3);
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
  EXPECT_EQ(contributions(*table_.find("busy")).size(), 600u);
  const std::size_t grown = table_.memory_bytes();

  // Every fine expired long ago; credits never expire.
  EXPECT_EQ(table_.purge(1'000'000, 1000), 0u);
  EXPECT_EQ(contributions(*table_.find("busy")).size(), 300u);
  std::int64_t credits = 0;
  for (int i = 1; i < 600; i += 2) {
    if (i % 3 != 0) credits -= 2;
  }
  EXPECT_EQ(score("busy", 1'000'000), credits);
  // Revokes of dropped fines are gone (their time is past retention); those of
  // credits remain.
  EXPECT_TRUE(pending(*table_.find("busy")).empty());
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
    ASSERT_EQ(SubjectTable::score_at(*state, i + 1).raw, expected) << subject;
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
  std::vector<stream::Event> events;
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
    SubjectTable table;
    for (const auto& event : events) ASSERT_EQ(table.apply(event).outcome, ApplyOutcome::kAccepted);
    const std::string print = describe(table.find("fleet:ACME"));
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
      EXPECT_EQ(SubjectTable::score_at(*table.find("fleet:ACME"), at).raw, expected) << at;
    }
    // Purging every expiring contribution shrinks it; what never expires stays.
    table.purge(1'000'000, 0);
    const auto left = contributions(*table.find("fleet:ACME"));
    EXPECT_EQ(left.size(), 834u);  // the credits: i % 3 == 0 for i < 2500
    for (const auto& c : left) EXPECT_EQ(c.type, "credit");
  }
}

TEST_F(SubjectTableTest, HeaderWidensOnARevokeAsOnAContribution) {
  // ~31 KB of contributions, then revokes that take the blob past 32 KB; and
  // the same events the other way round, where a contribution widens it.
  std::vector<stream::Event> contributions_first;
  for (int i = 0; i < 1300; ++i) {
    contributions_first.push_back(
        make_event(fmt::format("event-{:05}", i), "fleet", i % 2 == 0 ? credit_ : big_, i, "cam"));
  }
  for (int i = 0; i < 200; ++i) {
    contributions_first.push_back(make_event(fmt::format("revoke-{:05}", i), "fleet", revoke_, i,
                                             "", fmt::format("event-{:05}", i * 3)));
  }
  SubjectTable forward;
  for (const auto& event : contributions_first) forward.apply(event);
  SubjectTable backward;
  for (auto it = contributions_first.rbegin(); it != contributions_first.rend(); ++it) {
    backward.apply(*it);
  }
  EXPECT_EQ(describe(forward.find("fleet")), describe(backward.find("fleet")));
  std::int64_t expected = 0;
  for (int i = 0; i < 1300; ++i) {
    const bool revoked = i % 3 == 0 && i / 3 < 200;
    if (!revoked && (i % 2 == 0 || 1299 < i + 1000)) expected += i % 2 == 0 ? -2 : 10;
  }
  EXPECT_EQ(SubjectTable::score_at(*forward.find("fleet"), 1299).raw, expected);
  EXPECT_EQ(SubjectTable::score_at(*backward.find("fleet"), 1299).raw, expected);
}

// ---- purge ------------------------------------------------------------------

TEST_F(SubjectTableTest, PurgeDropsExactlyAfterRetention) {
  apply(make_event("a", "s", fine_, 0));  // expires at 100
  EXPECT_EQ(table_.purge(149, 50), 0u);   // 100 + 50 > 149: kept
  ASSERT_NE(table_.find("s"), nullptr);
  EXPECT_EQ(contributions(*table_.find("s")).size(), 1u);
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
  EXPECT_EQ(pending(*table_.find("s")).size(), 1u);
  EXPECT_EQ(table_.purge(1500, 500), 1u);
  EXPECT_EQ(table_.find("s"), nullptr);
}

TEST_F(SubjectTableTest, PurgeKeepsARevokeWhileItsTargetStays) {
  apply(make_event("a", "s", credit_, 0));
  apply(make_event("r", "s", revoke_, 10, "", "a"));
  EXPECT_EQ(table_.purge(1'000'000, 100), 0u);
  const auto listed = contributions(*table_.find("s"));
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
  EXPECT_TRUE(pending(*table_.find("s")).empty());
  // Expired again: both go once the revoke's time is past retention too.
  EXPECT_EQ(table_.purge(600, 200), 0u);
  EXPECT_EQ(contributions(*table_.find("s")).size(), 1u);
  EXPECT_TRUE(pending(*table_.find("s")).empty());
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
    before.push_back(describe(table_.find(subject(i))) +
                     fmt::format("{}", score(subject(i), i + 1)));
  }
  const std::size_t bytes_before = table_.memory_bytes();
  EXPECT_EQ(table_.purge(0, 0), 0u);
  EXPECT_LT(table_.memory_bytes(), bytes_before - (kSubjects / 2 - 1024) * 24);
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(describe(table_.find(subject(i))) + fmt::format("{}", score(subject(i), i + 1)),
              before[i]);
  }
  // The table goes on working: new subjects, growth, and another compaction.
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(apply(make_event("c", subject(i), fine_, 5)), ApplyOutcome::kAccepted);
    ASSERT_EQ(apply(make_event("a", subject(i), credit_, i)), ApplyOutcome::kDuplicate);
  }
  for (int i = 0; i < 5000; ++i) apply(make_event("a", fmt::format("new{}", i), credit_, 1));
  EXPECT_EQ(table_.purge(1000, 0), 0u);  // drops every "c" (expired at 105)
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_EQ(describe(table_.find(subject(i))) + fmt::format("{}", score(subject(i), i + 1)),
              before[i]);
  }
  EXPECT_EQ(table_.subjects(), static_cast<std::size_t>(kSubjects + 5000));
}

// ---- order independence -----------------------------------------------------

// A few thousand random events over 50 subjects: several rules, exact
// duplicates, revokes before and after their targets (arrival is shuffled),
// revokes of unknown ids, of revokes, and several of one target.
class RandomHistory {
 public:
  RandomHistory(const RandomHistory&) = delete;
  RandomHistory& operator=(const RandomHistory&) = delete;

  explicit RandomHistory(std::uint64_t seed) : random_(seed) {
    rules_.push_back(make_rule("red_light", 3, 540));
    rules_.push_back(make_rule("speeding", 2, 3000));
    rules_.push_back(make_rule("dui", 12, kNever));
    rules_.push_back(make_rule("assist", -2, 800));
    rules_.push_back(make_rule("corrected", -1, kNever));
    revoke_ = make_rule("revoke", 0, kNever, true);

    const char* sources[] = {"", "cam-1", "cam-2", "agency"};
    for (int i = 0; i < 2500; ++i) {
      const std::string subject = fmt::format("plate:NY:{:03}", uniform(50));
      const std::string id = fmt::format("e{}", i);
      // Coarse times so that equal times (ties broken by id) occur.
      const std::int64_t time = static_cast<std::int64_t>(uniform(400)) * 25;
      events_.push_back(
          make_event(id, subject, rules_[uniform(rules_.size())], time, sources[uniform(4)]));
      normal_.push_back(events_.size() - 1);
    }
    for (int i = 0; i < 600; ++i) {
      const std::string id = fmt::format("r{}", i);
      const std::int64_t time = static_cast<std::int64_t>(uniform(400)) * 25;
      const std::size_t kind = uniform(10);
      if (kind < 7) {  // a known target (some targets get several revokes)
        const stream::Event& target = events_[normal_[uniform(normal_.size() / 3)]];
        events_.push_back(
            make_event(id, target.subject.view(), revoke_, time, "appeals", target.id.view()));
      } else if (kind < 9) {  // an id nobody sent
        events_.push_back(make_event(id, fmt::format("plate:NY:{:03}", uniform(50)), revoke_, time,
                                     "", fmt::format("ghost{}", i)));
      } else if (!revokes_.empty()) {  // another revoke
        const stream::Event& target = events_[revokes_[uniform(revokes_.size())]];
        events_.push_back(
            make_event(id, target.subject.view(), revoke_, time, "appeals", target.id.view()));
      } else {
        continue;
      }
      revokes_.push_back(events_.size() - 1);
    }
    const std::size_t originals = events_.size();
    for (int i = 0; i < 400; ++i) events_.push_back(events_[uniform(originals)]);
    duplicates_ = 400;
  }

  const std::vector<stream::Event>& events() const { return events_; }
  std::size_t duplicates() const { return duplicates_; }
  std::vector<stream::Event> shuffled(std::uint64_t seed) const {
    std::vector<stream::Event> copy = events_;
    std::mt19937_64 shuffle_random(seed);
    std::shuffle(copy.begin(), copy.end(), shuffle_random);
    return copy;
  }

  // The brief's formula, computed from the set of events by brute force.
  std::map<std::string, std::int64_t> expected_scores(std::int64_t at_ms) const {
    std::map<std::string, std::set<std::string>> revoked;  // subject -> ids named by a revoke
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& event : events_) {
      if (!seen.emplace(event.subject.view(), event.id.view()).second) continue;
      if (event.type->is_revoke)
        revoked[std::string(event.subject.view())].emplace(event.revokes.view());
    }
    seen.clear();
    std::map<std::string, std::int64_t> scores;
    for (const auto& event : events_) {
      const std::string subject(event.subject.view());
      scores.try_emplace(subject, 0);
      if (!seen.emplace(subject, event.id.view()).second || event.type->is_revoke) continue;
      if (revoked[subject].contains(std::string(event.id.view()))) continue;
      const std::int64_t expires = event.type->expires_after_ms == kNever
                                       ? kNever
                                       : event.time_ms + event.type->expires_after_ms;
      if (event.time_ms <= at_ms && at_ms < expires) scores[subject] += event.type->points;
    }
    return scores;
  }

  std::set<std::string> subjects() const {
    std::set<std::string> out;
    for (const auto& event : events_) out.emplace(event.subject.view());
    return out;
  }

 private:
  std::size_t uniform(std::size_t n) { return static_cast<std::size_t>(random_() % n); }

  std::mt19937_64 random_;
  std::deque<Rule> rules_;  // a deque: events point at its elements
  Rule revoke_;
  std::vector<stream::Event> events_;
  std::vector<std::size_t> normal_;
  std::vector<std::size_t> revokes_;
  std::size_t duplicates_ = 0;
};

const std::int64_t kProbeTimes[] = {-1,   0,    25,   500,  540,   1234,
                                    3000, 5000, 7525, 9975, 12000, kNever - 1};

// Scores at every probe time and the full explain listing of every subject.
// `find` maps a subject to the table holding it.
template <typename Find>
std::string fingerprint(const std::set<std::string>& subjects, Find find) {
  std::string out;
  for (const auto& subject : subjects) {
    const SubjectState* state = find(subject);
    out += describe(state);
    for (const std::int64_t at : kProbeTimes) {
      const ScoreSum sum = state == nullptr ? ScoreSum{} : SubjectTable::score_at(*state, at);
      out += fmt::format("  at {}: {} ({})\n", at, sum.raw, sum.active);
    }
  }
  return out;
}

TEST(SubjectTableOrderTest, ScoresAndExplainDoNotDependOnArrivalOrder) {
  const RandomHistory history(20240601);
  const std::set<std::string> subjects = history.subjects();
  ASSERT_EQ(subjects.size(), 50u);

  std::string reference;
  for (std::uint64_t order = 0; order < 50; ++order) {
    SubjectTable table;
    std::size_t duplicates = 0;
    for (const auto& event : history.shuffled(order)) {
      duplicates += table.apply(event).outcome == ApplyOutcome::kDuplicate;
    }
    ASSERT_EQ(duplicates, history.duplicates());
    ASSERT_EQ(table.subjects(), subjects.size());
    const std::string print =
        fingerprint(subjects, [&](const std::string& s) { return table.find(s); });
    if (order == 0) {
      reference = print;
      // The first order is also checked against the formula itself.
      for (const std::int64_t at : kProbeTimes) {
        for (const auto& [subject, expected] : history.expected_scores(at)) {
          EXPECT_EQ(SubjectTable::score_at(*table.find(subject), at).raw, expected)
              << subject << " at " << at;
        }
      }
      continue;
    }
    ASSERT_EQ(print, reference) << "arrival order " << order;
  }
  // The history really exercises revocation in both directions and tombstones.
  EXPECT_NE(reference.find("revoked_by="), std::string::npos);
  EXPECT_NE(reference.find("  p id="), std::string::npos);
}

TEST(SubjectTableOrderTest, ScoresDoNotDependOnWorkerCount) {
  const RandomHistory history(777);
  const std::set<std::string> subjects = history.subjects();
  SubjectTable single;
  for (const auto& event : history.events()) single.apply(event);
  const std::string reference =
      fingerprint(subjects, [&](const std::string& s) { return single.find(s); });

  for (const std::uint32_t workers : {1U, 2U, 3U, 8U}) {
    const stream::KeyGroupMap groups(workers);
    std::vector<std::unique_ptr<SubjectTable>> tables;
    for (std::uint32_t w = 0; w < workers; ++w) tables.push_back(std::make_unique<SubjectTable>());
    for (const auto& event : history.shuffled(workers)) {
      tables[groups.worker_of(stream::stable_hash64(event.subject.view()))]->apply(event);
    }
    std::size_t total = 0;
    for (const auto& table : tables) total += table->subjects();
    EXPECT_EQ(total, subjects.size());
    const std::string print = fingerprint(subjects, [&](const std::string& s) {
      return tables[groups.worker_of(stream::stable_hash64(s))]->find(s);
    });
    EXPECT_EQ(print, reference) << workers << " workers";
  }
}

}  // namespace
}  // namespace tally::scorer

namespace tally::scorer {
namespace {

// More distinct rules and sources than the process-wide dictionaries hold: the
// rest are stored inline, and read back the same.
TEST(SubjectTableDictionaryTest, ValuesPastTheDictionaryCapAreStoredInline) {
  constexpr int kValues = 70'000;
  std::deque<Rule> rules;
  for (int i = 0; i < kValues; ++i) {
    rules.push_back(make_rule(fmt::format("rule-{}", i), i % 7 - 3, i % 2 == 0 ? kNever : 1000));
  }
  const Rule revoke = make_rule("revoke", 0, kNever, true);
  SubjectTable table;
  for (int i = 0; i < kValues; ++i) {
    ASSERT_EQ(table
                  .apply(make_event(fmt::format("e{}", i), fmt::format("s{}", i % 50), rules[i], i,
                                    fmt::format("source-{}", i)))
                  .outcome,
              ApplyOutcome::kAccepted);
  }
  // Revokes with fresh sources: of known targets, and pending ones.
  for (int i = 0; i < 100; ++i) {
    const int target = kValues - 1 - i;
    const int subject = i % 2 == 0 ? target % 50 : i % 50;
    table.apply(make_event(fmt::format("r{}", i), fmt::format("s{}", subject), revoke, kValues + i,
                           fmt::format("appeal-desk-{}", i),
                           i % 2 == 0 ? fmt::format("e{}", target) : "nobody"));
  }
  std::size_t listed = 0;
  std::size_t revoked = 0;
  std::size_t waiting = 0;
  for (int s = 0; s < 50; ++s) {
    const SubjectState& state = *table.find(fmt::format("s{}", s));
    std::int64_t expected = 0;
    SubjectTable::for_each_contribution(state, [&](const ContributionView& c) {
      const int i = std::stoi(std::string(c.id.substr(1)));
      EXPECT_EQ(c.type, fmt::format("rule-{}", i));
      EXPECT_EQ(c.points, i % 7 - 3);
      EXPECT_EQ(c.source, fmt::format("source-{}", i));
      EXPECT_EQ(c.time_ms, i);
      if (c.revoked) {
        ++revoked;
        EXPECT_EQ(c.revoke_source, fmt::format("appeal-desk-{}", kValues - 1 - i));
      } else if (i % 2 == 0) {
        expected += c.points;  // never expires
      }
      ++listed;
    });
    SubjectTable::for_each_pending_revoke(state, [&](const PendingRevokeView& r) {
      const int i = std::stoi(std::string(r.id.substr(1)));
      EXPECT_EQ(r.source, fmt::format("appeal-desk-{}", i));
      ++waiting;
    });
    EXPECT_EQ(SubjectTable::score_at(state, 1'000'000).raw, expected);
  }
  EXPECT_EQ(listed, static_cast<std::size_t>(kValues));
  EXPECT_EQ(revoked, 50u);
  EXPECT_EQ(waiting, 50u);
}

}  // namespace
}  // namespace tally::scorer
