#include "scorer/tier_changes.h"

#include <algorithm>

namespace tally::scorer {

void TierChangeFinder::find(const SubjectTable& table, const SubjectState& state,
                            const RuleSet& rules, std::int64_t after_ms, std::int64_t until_ms,
                            Causes causes, const std::function<void(const TierChange&)>& visit) {
  instants_.clear();
  if (causes == Causes::kExpiriesOnly && !table.expires_within(state, after_ms, until_ms)) {
    return;  // the common case of a sweep, without building views
  }
  table.for_each_contribution(state, [&](const ContributionView& c) {
    if (c.revoked) return;
    if (causes == Causes::kAll && c.time_ms > after_ms && c.time_ms <= until_ms) {
      instants_.push_back({c.time_ms, c.id, false});
    }
    if (c.expires_ms != kNever && c.expires_ms > after_ms && c.expires_ms <= until_ms) {
      instants_.push_back({c.expires_ms, c.id, true});
    }
  });
  if (instants_.empty()) return;
  // At one instant, the cause named is the first of (starts, then expiries;
  // each by id): the same whatever order the subject's events arrived in.
  std::sort(instants_.begin(), instants_.end(), [](const Instant& a, const Instant& b) {
    if (a.time_ms != b.time_ms) return a.time_ms < b.time_ms;
    if (a.by_expiry != b.by_expiry) return !a.by_expiry;
    return a.id < b.id;
  });
  timeline_.build(table, state);
  const auto score_at = [&](std::int64_t at) {
    return rules.clamp(rules.score().base + timeline_.at(at).raw);
  };
  for (std::size_t i = 0; i < instants_.size(); ++i) {
    const Instant& instant = instants_[i];
    if (i > 0 && instants_[i - 1].time_ms == instant.time_ms) continue;  // scored already
    const std::int64_t score = score_at(instant.time_ms);
    const std::string_view from = rules.tier_for(score_at(instant.time_ms - 1));
    const std::string_view to = rules.tier_for(score);
    if (from == to) continue;
    visit({instant.time_ms, from, to, score, instant.id, instant.by_expiry});
  }
}

}  // namespace tally::scorer
