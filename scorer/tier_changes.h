// When a subject's tier changes over time, computed from what it holds.
//
// A subject's score only changes at instants where a contribution starts to
// count (its event time) or stops (its expiry); revoked contributions never
// count. So its tier history is found by scoring just before and at each such
// instant. `history` lists every change; the expiry sweep (shard_worker.h)
// asks only for changes caused by expiries, which no arriving event alerts.
// Where several contributions start or stop at the instant of a change, the
// one named as its cause is the first starting one by id, else the first
// expiring one by id: a function of what the subject holds, not of arrival.
//
// Cost: O(n log n) for a subject with n records (its scores read from a
// ScoreTimeline). Reuses its buffers: no allocation once warm.
//
// Thread-safety: one TierChangeFinder per thread; run on the owning worker.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "scorer/rules.h"
#include "scorer/score_timeline.h"
#include "scorer/subject_table.h"

namespace tally::scorer {

struct TierChange {
  std::int64_t time_ms = 0;
  std::string_view from;      // the tier just before time_ms
  std::string_view to;        // the tier at time_ms
  std::int64_t score = 0;     // at time_ms, clamped
  std::string_view cause_id;  // a contribution that starts or stops counting then
  bool by_expiry = false;     // the cause stopped counting (it expired)
};

class TierChangeFinder {
 public:
  enum class Causes : std::uint8_t { kAll, kExpiriesOnly };

  // Visits the tier changes of `state` (a subject of `table`) at instants in
  // (after_ms, until_ms], in time order.
  void find(const SubjectTable& table, const SubjectState& state, const RuleSet& rules,
            std::int64_t after_ms, std::int64_t until_ms, Causes causes,
            const std::function<void(const TierChange&)>& visit);

 private:
  struct Instant {
    std::int64_t time_ms;
    std::string_view id;
    bool by_expiry;
  };
  std::vector<Instant> instants_;
  ScoreTimeline timeline_;
};

}  // namespace tally::scorer
