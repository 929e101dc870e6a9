// Test helpers for the subject table tests: rules built directly (without
// parsing a rules file), events, the explain listings of a subject, and a
// fixture holding a table with its own InternTable.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_groups.h"
#include "scorer/intern_table.h"
#include "scorer/subject_table.h"

namespace tally::scorer::testing {

inline Rule make_rule(std::string name, std::int32_t points, std::int64_t expires_after_ms,
                      bool is_revoke = false) {
  Rule rule;
  rule.name = std::move(name);
  rule.points = points;
  rule.expires_after_ms = expires_after_ms;
  rule.is_revoke = is_revoke;
  rule.rules_version = 7;
  return rule;
}

inline Event make_event(std::string_view id, std::string_view subject, const Rule& rule,
                        std::int64_t time_ms, std::string_view source = "",
                        std::string_view revokes = "") {
  Event event;
  EXPECT_TRUE(event.id.assign(id));
  EXPECT_TRUE(event.subject.assign(subject));
  EXPECT_TRUE(event.source.assign(source));
  EXPECT_TRUE(event.revokes.assign(revokes));
  event.type = &rule;
  event.time_ms = time_ms;
  event.subject_hash = stable_hash64(subject);
  return event;
}

inline std::vector<ContributionView> contributions(const SubjectTable& table,
                                                   const SubjectState& state) {
  std::vector<ContributionView> out;
  table.for_each_contribution(state, [&](const ContributionView& c) { out.push_back(c); });
  return out;
}

inline std::vector<PendingRevokeView> pending(const SubjectTable& table,
                                              const SubjectState& state) {
  std::vector<PendingRevokeView> out;
  table.for_each_pending_revoke(state, [&](const PendingRevokeView& r) { out.push_back(r); });
  return out;
}

// Everything explain shows about a subject, as text, for comparisons.
inline std::string describe(const SubjectTable& table, const SubjectState* state) {
  if (state == nullptr) return "<none>";
  std::string out = fmt::format("subject {}\n", SubjectTable::subject_of(*state));
  table.for_each_contribution(*state, [&](const ContributionView& c) {
    out += fmt::format("  c id={} type={} v={} points={} time={} expires={} source={}", c.id,
                       c.type, c.rules_version, c.points, c.time_ms, c.expires_ms, c.source);
    if (c.revoked) {
      out += fmt::format(" revoked_by={} revoke_source={} revoked_at={}", c.revoked_by,
                         c.revoke_source, c.revoked_at_ms);
    }
    out += "\n";
  });
  table.for_each_pending_revoke(*state, [&](const PendingRevokeView& r) {
    out +=
        fmt::format("  p id={} target={} source={} time={}\n", r.id, r.target, r.source, r.time_ms);
  });
  return out;
}

// A table of its own (with its own InternTable) and a few rules.
class SubjectTableTest : public ::testing::Test {
 protected:
  std::int64_t score(std::string_view subject, std::int64_t at_ms) const {
    const SubjectState* state = table_.find(subject);
    return state == nullptr ? 0 : table_.score_at(*state, at_ms).raw;
  }
  std::uint32_t active(std::string_view subject, std::int64_t at_ms) const {
    const SubjectState* state = table_.find(subject);
    return state == nullptr ? 0 : table_.score_at(*state, at_ms).active;
  }
  ApplyOutcome apply(const Event& event) { return table_.apply(event).outcome; }
  std::vector<ContributionView> contributions(std::string_view subject) const {
    return testing::contributions(table_, *table_.find(subject));
  }
  std::vector<PendingRevokeView> pending(std::string_view subject) const {
    return testing::pending(table_, *table_.find(subject));
  }
  std::vector<ContributionView> contributions(const SubjectState& state) const {
    return testing::contributions(table_, state);
  }
  std::vector<PendingRevokeView> pending(const SubjectState& state) const {
    return testing::pending(table_, state);
  }
  std::string describe(std::string_view subject) const {
    return testing::describe(table_, table_.find(subject));
  }

  const Rule fine_ = make_rule("fine", 3, 100);          // counts for 100 ms
  const Rule credit_ = make_rule("credit", -2, kNever);  // never expires
  const Rule big_ = make_rule("big", 10, 1000);
  const Rule revoke_ = make_rule("revoke", 0, kNever, true);
  InternTable interns_;
  SubjectTable table_{interns_};
};

}  // namespace tally::scorer::testing
