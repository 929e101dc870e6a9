// A subject's score as a function of time, built once and read many times:
// the score at any instant in O(log n) instead of a pass over the subject.
//
// A subject's raw score only changes where a contribution starts counting
// (its time) or stops (its expiry); revoked contributions never count. So
// the timeline is those instants, sorted, with the running sum after each:
// the score at T is the running sum at the last instant <= T. History (a
// score after every entry) and the tier changes of a subject over its whole
// life read it hundreds or thousands of times; with one pass each, a subject
// holding n events cost O(n^2) to list.
//
// Cost: O(n log n) to build, O(log n) a lookup; reuses its buffer.
//
// Thread-safety: one per thread; valid until the subject's table changes.
#pragma once

#include <cstdint>
#include <vector>

#include "scorer/subject_table.h"

namespace tally::scorer {

class ScoreTimeline {
 public:
  // Reads every unrevoked contribution of `state`.
  void build(const SubjectTable& table, const SubjectState& state);
  // What table.score_at(state, at_ms) answers, as of build().
  ScoreSum at(std::int64_t at_ms) const noexcept;

 private:
  struct Step {
    std::int64_t time_ms;
    std::int64_t raw;  // deltas at time_ms while building; then the running sum after it
    std::int64_t active;
  };
  std::vector<Step> steps_;
};

}  // namespace tally::scorer
