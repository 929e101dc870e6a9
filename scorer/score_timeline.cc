#include "scorer/score_timeline.h"

#include <algorithm>

namespace tally::scorer {

void ScoreTimeline::build(const SubjectTable& table, const SubjectState& state) {
  steps_.clear();
  table.for_each_contribution(state, [&](const ContributionView& c) {
    if (c.revoked) return;
    steps_.push_back({c.time_ms, c.points, 1});
    if (c.expires_ms != kNever) steps_.push_back({c.expires_ms, -c.points, -1});
  });
  std::sort(steps_.begin(), steps_.end(),
            [](const Step& a, const Step& b) { return a.time_ms < b.time_ms; });
  // One step per instant, holding the sums after it.
  std::size_t kept = 0;
  Step running{0, 0, 0};
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    running.raw += steps_[i].raw;
    running.active += steps_[i].active;
    if (i + 1 < steps_.size() && steps_[i + 1].time_ms == steps_[i].time_ms) continue;
    steps_[kept++] = {steps_[i].time_ms, running.raw, running.active};
  }
  steps_.resize(kept);
}

ScoreSum ScoreTimeline::at(std::int64_t at_ms) const noexcept {
  const auto after =
      std::upper_bound(steps_.begin(), steps_.end(), at_ms,
                       [](std::int64_t time, const Step& step) { return time < step.time_ms; });
  if (after == steps_.begin()) return {};
  const Step& step = *std::prev(after);
  return {step.raw, static_cast<std::uint32_t>(step.active)};
}

}  // namespace tally::scorer
