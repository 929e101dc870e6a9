#include "scorer/rules_impact.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>

namespace tally::scorer {
namespace {

// time + after, saturating at kNever (an expiry that never comes).
std::int64_t expiry_of(std::int64_t time_ms, std::int64_t after_ms) {
  if (after_ms == kNever || time_ms > kNever - after_ms) return kNever;
  return time_ms + after_ms;
}

std::size_t tier_index(const RuleSet& rules, std::string_view tier) {
  if (tier.empty()) return 0;
  for (std::size_t i = 0; i < rules.tiers().size(); ++i) {
    if (rules.tiers()[i].name == tier) return i + 1;
  }
  return 0;
}

// The larger change first, then the subject: the order of the top list.
bool ranks_before(const std::pair<std::int64_t, api::ImpactSubject>& a,
                  const std::pair<std::int64_t, api::ImpactSubject>& b) {
  if (a.first != b.first) return a.first > b.first;
  return a.second.subject < b.second.subject;
}

}  // namespace

ImpactTally::ImpactTally(const RuleSet& current, const RuleSet& proposal,
                         const ImpactOptions& options)
    : current_(&current),
      proposal_(&proposal),
      options_(options),
      transitions_((current.tiers().size() + 1) * (proposal.tiers().size() + 1), 0) {}

void ImpactTally::clear() { *this = ImpactTally(*current_, *proposal_, options_); }

void ImpactTally::add(const SubjectTable& table, const SubjectState& state) {
  const std::int64_t at = options_.at_ms;
  std::int64_t raw_proposed = 0;
  std::vector<std::string> moved_by;
  table.for_each_contribution(state, [&](const ContributionView& c) {
    if (c.revoked) return;
    const Rule* rule = proposal_->find(c.type);
    if (rule != nullptr && rule->is_revoke) rule = nullptr;
    const bool counts_now = c.time_ms <= at && at < c.expires_ms;
    const std::int64_t proposed_expiry =
        rule != nullptr ? expiry_of(c.time_ms, rule->expires_after_ms) : kNever;
    const bool counts_proposed = rule != nullptr && c.time_ms <= at && at < proposed_expiry;
    const std::int64_t points_proposed = counts_proposed ? rule->points : 0;
    auto it = types_.find(c.type);
    if (it == types_.end()) it = types_.emplace(std::string(c.type), TypeCounts{}).first;
    TypeCounts& counts = it->second;
    if (counts_now) {
      ++counts.events_now;
      counts.points_now += c.points;
    }
    if (counts_proposed) {
      ++counts.events_proposed;
      counts.points_proposed += points_proposed;
    }
    raw_proposed += points_proposed;
    if ((counts_now ? c.points : 0) != points_proposed &&
        std::find(moved_by.begin(), moved_by.end(), c.type) == moved_by.end()) {
      moved_by.emplace_back(c.type);
    }
  });
  const std::int64_t now = current_->clamp(current_->score().base + table.score_at(state, at).raw);
  const std::int64_t proposed = proposal_->clamp(proposal_->score().base + raw_proposed);
  const std::string_view tier_now = current_->tier_for(now);
  const std::string_view tier_proposed = proposal_->tier_for(proposed);
  ++subjects_;
  ++transitions_[tier_index(*current_, tier_now) * (proposal_->tiers().size() + 1) +
                 tier_index(*proposal_, tier_proposed)];
  const std::int64_t change = proposed - now;
  ++deltas_[change];
  const bool tier_changed = tier_now != tier_proposed;
  if (tier_changed) ++changed_tier_;
  if (change == 0 && !tier_changed) return;
  const std::string_view subject = SubjectTable::subject_of(state);
  api::ImpactRow row{std::string(subject), now, proposed, std::string(tier_now),
                     std::string(tier_proposed)};
  if (options_.rows) {
    const std::uint32_t group = key_group_of(stable_hash64(subject));
    if (group >= options_.rows->first && group < options_.rows->second) rows_.push_back(row);
  }
  if (change == 0) return;
  ++changed_score_;
  api::ImpactSubject top;
  static_cast<api::ImpactRow&>(top) = std::move(row);
  top.types = std::move(moved_by);
  keep_top(std::move(top), change < 0 ? -change : change);
}

void ImpactTally::keep_top(api::ImpactSubject subject, std::int64_t magnitude) {
  if (options_.top == 0) return;
  std::pair<std::int64_t, api::ImpactSubject> entry(magnitude, std::move(subject));
  if (top_.size() == options_.top) {
    // top_.front() is the one that ranks last: replace it only by a better one.
    if (!ranks_before(entry, top_.front())) return;
    std::pop_heap(top_.begin(), top_.end(), ranks_before);
    top_.back() = std::move(entry);
  } else {
    top_.push_back(std::move(entry));
  }
  std::push_heap(top_.begin(), top_.end(), ranks_before);
}

void ImpactTally::merge(const ImpactTally& other) {
  subjects_ += other.subjects_;
  changed_score_ += other.changed_score_;
  changed_tier_ += other.changed_tier_;
  for (std::size_t i = 0; i < transitions_.size(); ++i) transitions_[i] += other.transitions_[i];
  for (const auto& [change, count] : other.deltas_) deltas_[change] += count;
  for (const auto& [magnitude, subject] : other.top_) keep_top(subject, magnitude);
  for (const auto& [type, counts] : other.types_) {
    TypeCounts& into = types_[type];
    into.events_now += counts.events_now;
    into.events_proposed += counts.events_proposed;
    into.points_now += counts.points_now;
    into.points_proposed += counts.points_proposed;
  }
  rows_.insert(rows_.end(), other.rows_.begin(), other.rows_.end());
}

api::ImpactAnswer ImpactTally::answer() const {
  api::ImpactAnswer answer;
  answer.at_ms = options_.at_ms;
  answer.subjects = subjects_;
  answer.changed_score = changed_score_;
  answer.changed_tier = changed_tier_;
  for (const Tier& tier : current_->tiers()) answer.tiers_now.push_back(tier.name);
  for (const Tier& tier : proposal_->tiers()) answer.tiers_proposed.push_back(tier.name);
  const std::size_t columns = proposal_->tiers().size() + 1;
  for (std::size_t i = 0; i < transitions_.size(); ++i) {
    if (transitions_[i] == 0) continue;
    const std::size_t from = i / columns;
    const std::size_t to = i % columns;
    answer.transitions.push_back({from == 0 ? std::string() : current_->tiers()[from - 1].name,
                                  to == 0 ? std::string() : proposal_->tiers()[to - 1].name,
                                  transitions_[i]});
  }
  // Quantiles from the histogram of changes: the value at rank q * (n - 1).
  if (subjects_ > 0) {
    const auto at_rank = [&](double q) {
      const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(subjects_ - 1));
      std::uint64_t seen = 0;
      for (const auto& [change, count] : deltas_) {
        seen += count;
        if (seen > rank) return change;
      }
      return deltas_.rbegin()->first;
    };
    answer.delta.min = deltas_.begin()->first;
    answer.delta.p25 = at_rank(0.25);
    answer.delta.median = at_rank(0.5);
    answer.delta.p75 = at_rank(0.75);
    answer.delta.max = deltas_.rbegin()->first;
    for (const auto& [change, count] : deltas_) {
      if (change > 0) answer.delta.up += count;
      if (change < 0) answer.delta.down += count;
    }
  }
  auto top = top_;
  std::sort(top.begin(), top.end(), ranks_before);
  for (auto& [magnitude, subject] : top) answer.top.push_back(std::move(subject));
  for (const auto& [type, counts] : types_) {
    const Rule* proposed = proposal_->find(type);
    const Rule* live = current_->find(type);
    answer.types.push_back({type, counts.events_now, counts.events_proposed, counts.points_now,
                            counts.points_proposed, proposed != nullptr && !proposed->is_revoke,
                            true, live != nullptr && !live->is_revoke});
  }
  for (const Rule& rule : proposal_->rules()) {
    if (types_.find(rule.name) == types_.end()) {
      answer.types.push_back(
          {rule.name, 0, 0, 0, 0, true, false, current_->find(rule.name) != nullptr});
    }
  }
  if (options_.rows) {
    auto rows = rows_;
    std::sort(rows.begin(), rows.end(), [](const api::ImpactRow& a, const api::ImpactRow& b) {
      return a.subject < b.subject;
    });
    answer.rows = std::move(rows);
  }
  return answer;
}

namespace {

// One worker's part of a job: where its walk stands and what it counted.
struct WorkerPart {
  WorkerPart(const ImpactTally& empty) : tally(empty) {}
  SubjectWalk walk;
  ImpactTally tally;
  bool finished = false;
};

// One slice of one worker's walk, added to that worker's tally; or, with
// `abandon`, the end of an unfinished walk (so that purges resume).
class ImpactSliceCommand final : public ShardCommand {
 public:
  ImpactSliceCommand(WorkerPart& part, bool abandon) : part_(part), abandon_(abandon) {}
  void run(ShardWorker& worker) override {
    if (part_.finished) return;
    const SubjectTable& table = worker.table();
    if (abandon_) {
      table.end_walk(part_.walk);
      part_.finished = true;
      return;
    }
    const WalkStep step =
        table.walk_step(part_.walk, ImpactJob::kSliceSubjects,
                        [&](const SubjectState& s) { part_.tally.add(table, s); });
    if (step == WalkStep::kRestart) part_.tally.clear();
    part_.finished = step == WalkStep::kDone;
  }

 private:
  WorkerPart& part_;
  bool abandon_;
};

}  // namespace

Result<std::unique_ptr<ImpactJob>> ImpactJob::start(Engine& engine,
                                                    const api::ImpactRequest& request) {
  Result<std::shared_ptr<const RuleSet>> proposal = parse_rules(request.rules, request.file, 0);
  if (!proposal) return proposal.status();
  ImpactOptions options;
  options.at_ms = request.at_ms.value_or(engine.now_ms());
  options.top = request.top;
  options.rows = request.rows;
  if (const Status begun = engine.try_begin_impact(); !begun.is_ok()) return begun;
  return std::unique_ptr<ImpactJob>(
      new ImpactJob(engine, std::move(proposal).value(), request.file, options));
}

ImpactJob::ImpactJob(Engine& engine, std::shared_ptr<const RuleSet> proposal, std::string file,
                     ImpactOptions options)
    : engine_(engine),
      proposal_(std::move(proposal)),
      file_(std::move(file)),
      options_(options),
      thread_([this] { run(); }) {}

ImpactJob::~ImpactJob() {
  cancel_.store(true, std::memory_order_release);
  wait();
}

void ImpactJob::wait() {
  if (thread_.joinable()) thread_.join();
}

void ImpactJob::run() {
  const auto start = std::chrono::steady_clock::now();
  // The rules live as long as the engine (every set ever published is kept).
  const RuleSet& current = engine_.rules();
  const std::uint32_t workers = engine_.workers();  // fixed: no change runs meanwhile
  const ImpactTally empty(current, *proposal_, options_);
  std::deque<WorkerPart> parts;
  for (std::uint32_t w = 0; w < workers; ++w) parts.emplace_back(empty);
  const auto unfinished = [&] {
    return std::any_of(parts.begin(), parts.end(), [](const WorkerPart& p) { return !p.finished; });
  };
  const auto round = [&](bool abandon) {
    std::deque<ImpactSliceCommand> slices;  // not movable: they hold atomics
    engine_.run_on_all(QueueRow::kBackground, [&](std::uint32_t w) -> ShardCommand* {
      return &slices.emplace_back(parts[w], abandon);
    });
  };
  while (!cancel_.load(std::memory_order_acquire) && unfinished()) round(false);
  if (unfinished()) {
    round(true);
  } else {
    for (std::uint32_t w = 1; w < workers; ++w) parts[0].tally.merge(parts[w].tally);
    answer_ = parts[0].tally.answer();
    answer_.file = file_;
    answer_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  engine_.end_impact();
  done_.store(true, std::memory_order_release);
}

}  // namespace tally::scorer
