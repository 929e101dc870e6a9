// SubjectTable: scores and explain listings are a function of the set of
// events, not of their arrival order nor of the worker count; values past the
// InternTable's cap are stored inline and read back the same.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/key_groups.h"
#include "scorer/intern_table.h"
#include "scorer/score_timeline.h"
#include "scorer/subject_table.h"
#include "tests/scorer/subject_table_support.h"

namespace tally::scorer {
namespace {

using testing::make_event;
using testing::make_rule;

// A few thousand random events over `subjects` subjects (50: small ones; 3:
// large ones, indexed): several rules, exact duplicates, revokes before and
// after their targets (arrival is shuffled), revokes of unknown ids, of
// revokes, and several of one target.
class RandomHistory {
 public:
  RandomHistory(const RandomHistory&) = delete;
  RandomHistory& operator=(const RandomHistory&) = delete;

  explicit RandomHistory(std::uint64_t seed, std::size_t subjects = 50) : random_(seed) {
    rules_.push_back(make_rule("red_light", 3, 540));
    rules_.push_back(make_rule("speeding", 2, 3000));
    rules_.push_back(make_rule("dui", 12, kNever));
    rules_.push_back(make_rule("assist", -2, 800));
    rules_.push_back(make_rule("corrected", -1, kNever));
    revoke_ = make_rule("revoke", 0, kNever, true);

    const char* sources[] = {"", "cam-1", "cam-2", "agency"};
    for (int i = 0; i < 2500; ++i) {
      const std::string subject = fmt::format("plate:NY:{:03}", uniform(subjects));
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
        const Event& target = events_[normal_[uniform(normal_.size() / 3)]];
        events_.push_back(
            make_event(id, target.subject.view(), revoke_, time, "appeals", target.id.view()));
      } else if (kind < 9) {  // an id nobody sent
        events_.push_back(make_event(id, fmt::format("plate:NY:{:03}", uniform(subjects)), revoke_,
                                     time, "", fmt::format("ghost{}", i)));
      } else if (!revokes_.empty()) {  // another revoke
        const Event& target = events_[revokes_[uniform(revokes_.size())]];
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

  const std::vector<Event>& events() const { return events_; }
  std::size_t duplicates() const { return duplicates_; }
  std::vector<Event> shuffled(std::uint64_t seed) const {
    std::vector<Event> copy = events_;
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
  std::vector<Event> events_;
  std::vector<std::size_t> normal_;
  std::vector<std::size_t> revokes_;
  std::size_t duplicates_ = 0;
};

const std::int64_t kProbeTimes[] = {-1,   0,    25,   500,  540,   1234,
                                    3000, 5000, 7525, 9975, 12000, kNever - 1};

// Scores at every probe time and the full explain listing of every subject.
// `table_of` maps a subject to the table holding it.
template <typename TableOf>
std::string fingerprint(const std::set<std::string>& subjects, TableOf table_of) {
  std::string out;
  for (const auto& subject : subjects) {
    const SubjectTable& table = table_of(subject);
    const SubjectState* state = table.find(subject);
    out += testing::describe(table, state);
    for (const std::int64_t at : kProbeTimes) {
      const ScoreSum sum = state == nullptr ? ScoreSum{} : table.score_at(*state, at);
      out += fmt::format("  at {}: {} ({})\n", at, sum.raw, sum.active);
    }
  }
  return out;
}

// Every subject's score at every probe time is the brief's formula's.
void expect_the_formula(const RandomHistory& history, const SubjectTable& table) {
  for (const std::int64_t at : kProbeTimes) {
    for (const auto& [subject, expected] : history.expected_scores(at)) {
      EXPECT_EQ(table.score_at(*table.find(subject), at).raw, expected) << subject << " at " << at;
    }
  }
}

TEST(SubjectTableOrderTest, ScoresAndExplainDoNotDependOnArrivalOrder) {
  const RandomHistory history(20240601);
  const std::set<std::string> subjects = history.subjects();
  ASSERT_EQ(subjects.size(), 50u);

  std::string reference;
  InternTable interns;
  for (std::uint64_t order = 0; order < 50; ++order) {
    SubjectTable table(interns);
    std::size_t duplicates = 0;
    for (const auto& event : history.shuffled(order)) {
      duplicates += table.apply(event).outcome == ApplyOutcome::kDuplicate;
    }
    ASSERT_EQ(duplicates, history.duplicates());
    ASSERT_EQ(table.subjects(), subjects.size());
    const std::string print =
        fingerprint(subjects, [&](const std::string&) -> const SubjectTable& { return table; });
    if (order == 0) {
      reference = print;
      expect_the_formula(history, table);  // the first order is also checked against it
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
  InternTable interns;
  SubjectTable single(interns);
  for (const auto& event : history.events()) single.apply(event);
  const std::string reference =
      fingerprint(subjects, [&](const std::string&) -> const SubjectTable& { return single; });

  for (const std::uint32_t workers : {1U, 2U, 3U, 8U}) {
    const KeyGroupMap groups(workers);
    std::vector<std::unique_ptr<SubjectTable>> tables;
    for (std::uint32_t w = 0; w < workers; ++w) {
      tables.push_back(std::make_unique<SubjectTable>(interns));  // shared, as in an engine
    }
    for (const auto& event : history.shuffled(workers)) {
      tables[groups.worker_of(stable_hash64(event.subject.view()))]->apply(event);
    }
    std::size_t total = 0;
    for (const auto& table : tables) total += table->subjects();
    EXPECT_EQ(total, subjects.size());
    const std::string print =
        fingerprint(subjects, [&](const std::string& s) -> const SubjectTable& {
          return *tables[groups.worker_of(stable_hash64(s))];
        });
    EXPECT_EQ(print, reference) << workers << " workers";
  }
}

// Large subjects (over a thousand events each) are indexed (subject_index.h):
// every order and every index threshold (every subject indexed, the default,
// none) gives the same scores and listings as the formula; and the scores
// the index keeps while applying (before and after each event, with "now"
// moving forward) are the ones a pass over the subject gives.
TEST(SubjectTableOrderTest, IndexedSubjectsAnswerAsScannedOnesInEveryOrder) {
  const RandomHistory history(4242, 3);
  const std::set<std::string> subjects = history.subjects();
  ASSERT_EQ(subjects.size(), 3u);
  std::string reference;
  InternTable interns;
  const std::uint32_t thresholds[] = {std::numeric_limits<std::uint32_t>::max(), 0,
                                      SubjectTable::Options{}.index_from_bytes};
  for (const std::uint32_t threshold : thresholds) {
    for (std::uint64_t order = 0; order < 4; ++order) {
      SubjectTable table(interns, {.index_from_bytes = threshold});
      std::int64_t now = std::numeric_limits<std::int64_t>::min();
      for (const auto& event : history.shuffled(order)) {
        now = std::max(now, event.time_ms);  // the event clock
        const SubjectState* was = table.find(event.subject.view());
        const ScoreSum expected_before = was == nullptr ? ScoreSum{} : table.score_at(*was, now);
        const SubjectTable::Applied applied = table.apply(event, now);
        ASSERT_EQ(applied.before.raw, expected_before.raw) << event.id.view();
        ASSERT_EQ(applied.before.active, expected_before.active) << event.id.view();
        const ScoreSum expected_after = table.score_at(*applied.state, now);
        ASSERT_EQ(applied.after.raw, expected_after.raw) << event.id.view();
        ASSERT_EQ(applied.after.active, expected_after.active) << event.id.view();
      }
      const std::string print =
          fingerprint(subjects, [&](const std::string&) -> const SubjectTable& { return table; });
      if (reference.empty()) {
        reference = print;
        expect_the_formula(history, table);
        continue;
      }
      ASSERT_EQ(print, reference) << "threshold " << threshold << ", order " << order;
    }
  }
  EXPECT_NE(reference.find("revoked_by="), std::string::npos);
  EXPECT_NE(reference.find("  p id="), std::string::npos);
}

// A subject's index is dropped by whatever rewrites its blob other than an
// insert (a purge, a move to another table) and built again by the next
// event: the answers stay those of a table that never indexes.
TEST(SubjectTableOrderTest, AnIndexSurvivesPurgesAndMoves) {
  const RandomHistory history(99, 3);
  const std::set<std::string> subjects = history.subjects();
  const std::vector<Event> events = history.shuffled(1);
  InternTable interns;
  SubjectTable indexed(interns, {.index_from_bytes = 0});
  SubjectTable scanned(interns, {.index_from_bytes = std::numeric_limits<std::uint32_t>::max()});
  SubjectTable other(interns, {.index_from_bytes = 0});
  std::bitset<kKeyGroups> all;
  all.set();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::int64_t now = events[i].time_ms;
    indexed.apply(events[i], now);
    scanned.apply(events[i], now);
    if (i % 700 == 699) {  // drops what expired 500 ms before the event's time
      indexed.purge(now, 500);
      scanned.purge(now, 500);
    }
    if (i % 1100 == 1099) {  // every subject there and back
      std::string blobs;
      indexed.extract_groups(all, [&](std::uint32_t, std::string_view blob) { blobs += blob; });
      other.insert_blobs(blobs, [](const SubjectState&) {});
      blobs.clear();
      other.extract_groups(all, [&](std::uint32_t, std::string_view blob) { blobs += blob; });
      indexed.insert_blobs(blobs, [](const SubjectState&) {});
    }
  }
  const auto print_of = [&](const SubjectTable& table) {
    return fingerprint(subjects, [&](const std::string&) -> const SubjectTable& { return table; });
  };
  EXPECT_EQ(print_of(indexed), print_of(scanned));
}

// --max-events-per-subject: one event more than the subject may hold is
// refused and changes nothing; a resend of one it holds is still a
// duplicate; other subjects are not affected; both paths agree.
TEST(SubjectTableOrderTest, ASubjectHoldsAtMostItsLimitOfEvents) {
  const Rule rule = make_rule("speeding", 2, kNever);
  const Rule revoke = make_rule("revoke", 0, kNever, true);
  InternTable interns;
  for (const std::uint32_t threshold : {0u, std::numeric_limits<std::uint32_t>::max()}) {
    SubjectTable table(interns, {.max_events_per_subject = 10, .index_from_bytes = threshold});
    for (int i = 0; i < 9; ++i) {
      ASSERT_EQ(table.apply(make_event(fmt::format("e{}", i), "fleet", rule, i)).outcome,
                ApplyOutcome::kAccepted);
    }
    EXPECT_EQ(table.apply(make_event("r0", "fleet", revoke, 20, "", "e0")).outcome,
              ApplyOutcome::kAccepted);  // the tenth
    EXPECT_EQ(table.apply(make_event("e9", "fleet", rule, 9)).outcome, ApplyOutcome::kSubjectFull);
    EXPECT_EQ(table.apply(make_event("r1", "fleet", revoke, 21, "", "e1")).outcome,
              ApplyOutcome::kSubjectFull);
    EXPECT_EQ(table.apply(make_event("e3", "fleet", rule, 3)).outcome, ApplyOutcome::kDuplicate);
    EXPECT_EQ(table.apply(make_event("e0", "other", rule, 0)).outcome, ApplyOutcome::kAccepted);
    EXPECT_EQ(table.score_at(*table.find("fleet"), 100).raw, 16);  // e1..e8
  }
}

// A ScoreTimeline (history, tier changes) answers what a pass over the
// subject answers, at every instant where a score changes and between them.
TEST(SubjectTableOrderTest, AScoreTimelineAgreesWithThePassAtEveryInstant) {
  const RandomHistory history(31337, 3);
  InternTable interns;
  SubjectTable table(interns);
  for (const auto& event : history.events()) table.apply(event);
  ScoreTimeline timeline;
  for (const auto& subject : history.subjects()) {
    const SubjectState& state = *table.find(subject);
    timeline.build(table, state);
    std::set<std::int64_t> instants = {std::numeric_limits<std::int64_t>::min(), kNever - 1};
    table.for_each_contribution(state, [&](const ContributionView& c) {
      for (const std::int64_t t : {c.time_ms, c.expires_ms}) {
        if (t == kNever) continue;
        instants.insert({t - 1, t, t + 1});
      }
    });
    for (const std::int64_t at : instants) {
      const ScoreSum pass = table.score_at(state, at);
      const ScoreSum read = timeline.at(at);
      ASSERT_EQ(read.raw, pass.raw) << subject << " at " << at;
      ASSERT_EQ(read.active, pass.active) << subject << " at " << at;
    }
  }
}

// More distinct rules and sources than the InternTable holds: the rest are
// stored inline, and read back the same. A small cap makes the test quick; it
// is this test's own, so no other test sees it full.
TEST(SubjectTableInternTest, ValuesPastTheInternCapAreStoredInline) {
  constexpr int kValues = 3'000;
  InternTable interns(100);
  std::deque<Rule> rules;
  for (int i = 0; i < kValues; ++i) {
    rules.push_back(make_rule(fmt::format("rule-{}", i), i % 7 - 3, i % 2 == 0 ? kNever : 1000));
  }
  const Rule revoke = make_rule("revoke", 0, kNever, true);
  SubjectTable table(interns);
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
    table.for_each_contribution(state, [&](const ContributionView& c) {
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
    table.for_each_pending_revoke(state, [&](const PendingRevokeView& r) {
      const int i = std::stoi(std::string(r.id.substr(1)));
      EXPECT_EQ(r.source, fmt::format("appeal-desk-{}", i));
      ++waiting;
    });
    EXPECT_EQ(table.score_at(state, 1'000'000).raw, expected);
  }
  EXPECT_EQ(listed, static_cast<std::size_t>(kValues));
  EXPECT_EQ(revoked, 50u);
  EXPECT_EQ(waiting, 50u);
}

}  // namespace
}  // namespace tally::scorer
