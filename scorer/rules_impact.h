// The impact of a proposed rules file: every subject scored now and as if
// the proposal had always been in force, without touching the live state.
//
// Semantics: each stored, unrevoked contribution is re-scored with the
// proposal's terms for its event type (points, and an expiry from the
// event's time), and the proposal's base, clamp and tiers apply; a type the
// proposal does not name counts 0 there. "Now" is the live score (the points
// each event was accepted with: rules are not retroactive on reload). Both
// are taken at the same instant `at`.
//
// ImpactTally is what one worker accumulates over its subjects (counts, a
// transition matrix, the score changes as a histogram of values, a bounded
// top-N, per-type counts, and the rows of asked key groups); tallies merge,
// and the merged one makes the answer. Memory: the histogram has one entry
// per distinct change (few), the top N entries, and the rows asked for.
//
// ImpactJob runs it on the workers in slices (SubjectTable::walk_step, a
// bounded number of subjects a command), on a thread of its own with its
// own queue row, so ingest and queries go on in between; at most one runs
// at a time, never during a worker-count change (Engine::try_begin_impact).
//
// Thread-safety: a tally belongs to one thread at a time; a job's done()
// and answer() from any thread.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/answers.h"
#include "api/protocol.h"
#include "core/status.h"
#include "scorer/engine.h"
#include "scorer/rules.h"
#include "scorer/subject_table.h"

namespace tally::scorer {

struct ImpactOptions {
  std::int64_t at_ms = 0;
  std::size_t top = 10;
  // Also keep a row for each changed subject of key groups [first, second).
  std::optional<std::pair<std::uint32_t, std::uint32_t>> rows;
};

class ImpactTally {
 public:
  ImpactTally(const RuleSet& current, const RuleSet& proposal, const ImpactOptions& options);

  void add(const SubjectTable& table, const SubjectState& state);
  void merge(const ImpactTally& other);
  // Forgets every subject added (a walk that must begin again).
  void clear();
  api::ImpactAnswer answer() const;

 private:
  struct TypeCounts {
    std::uint64_t events_now = 0;
    std::uint64_t events_proposed = 0;
    std::int64_t points_now = 0;
    std::int64_t points_proposed = 0;
  };
  void keep_top(api::ImpactSubject subject, std::int64_t magnitude);

  const RuleSet* current_;
  const RuleSet* proposal_;
  ImpactOptions options_;
  std::uint64_t subjects_ = 0;
  std::uint64_t changed_score_ = 0;
  std::uint64_t changed_tier_ = 0;
  // [tier index now][tier index proposed]; index 0 is "" (below every tier).
  std::vector<std::uint64_t> transitions_;
  std::map<std::int64_t, std::uint64_t> deltas_;  // change -> subjects
  // The top N by |change|, then subject: a min-heap on that order.
  std::vector<std::pair<std::int64_t, api::ImpactSubject>> top_;
  std::map<std::string, TypeCounts, std::less<>> types_;
  std::vector<api::ImpactRow> rows_;
};

class ImpactJob {
 public:
  // Subjects a slice command visits on a worker before it returns to its
  // queues: at most about 10 ms of work on the CI machine under load (README).
  static constexpr std::size_t kSliceSubjects = 5000;

  // Parses the proposal (refused: rules_refused with file, line and reason)
  // and starts. Refused with busy while another impact or a worker-count
  // change runs.
  static Result<std::unique_ptr<ImpactJob>> start(Engine& engine,
                                                  const api::ImpactRequest& request);
  // Stops at the next slice (the answer is then not given) and waits.
  ~ImpactJob();
  ImpactJob(const ImpactJob&) = delete;
  ImpactJob& operator=(const ImpactJob&) = delete;

  bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  // Once done(): the answer.
  const api::ImpactAnswer& answer() const noexcept { return answer_; }
  // Waits for the end (tests, and a synchronous caller).
  void wait();

 private:
  ImpactJob(Engine& engine, std::shared_ptr<const RuleSet> proposal, std::string file,
            ImpactOptions options);
  void run();

  Engine& engine_;
  std::shared_ptr<const RuleSet> proposal_;
  std::string file_;
  ImpactOptions options_;
  api::ImpactAnswer answer_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace tally::scorer
