#include "scorer/query_handler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <deque>
#include <limits>

#include "scorer/score_timeline.h"
#include "scorer/tier_changes.h"

namespace tally::scorer {
namespace {

std::int64_t score_of(const RuleSet& rules, std::int64_t raw) {
  return rules.clamp(rules.score().base + raw);
}

api::ScoreAnswer score_answer(const RuleSet& rules, std::string_view subject, const ScoreSum& sum,
                              std::int64_t at_ms) {
  const std::int64_t score = score_of(rules, sum.raw);
  return {std::string(subject), score, std::string(rules.tier_for(score)), sum.active, at_ms};
}

api::Contribution contribution_of(const ContributionView& c) {
  api::Contribution out;
  out.id = c.id;
  out.type = c.type;
  out.points = c.points;
  out.time_ms = c.time_ms;
  out.expires_ms = c.expires_ms;
  out.source = c.source;
  out.rules_version = c.rules_version;
  out.revoked = c.revoked;
  if (c.revoked) {
    out.revocation = {std::string(c.revoked_by), std::string(c.revoke_source),
                      std::string(c.revoke_reason), c.revoked_at_ms, std::string(c.revoke_actor)};
  }
  return out;
}

// score / explain for one subject, on its owning worker.
class ScoreCommand final : public SubjectCommand {
 public:
  ScoreCommand(const std::string& subject, std::optional<std::int64_t> at, bool explain)
      : SubjectCommand(stable_hash64(subject)), subject_(subject), at_(at), explain_(explain) {}

 protected:
  void run_held(ShardWorker& worker) override {
    answer = {};
    const std::int64_t at = at_.value_or(worker.now_ms());
    const SubjectTable& table = worker.table();
    const SubjectState* state = table.find(subject_);
    const ScoreSum sum = state != nullptr ? table.score_at(*state, at) : ScoreSum{};
    answer.score = score_answer(worker.rules(), subject_, sum, at);
    if (!explain_ || state == nullptr) return;
    table.for_each_contribution(*state, [&](const ContributionView& c) {
      auto& list = c.revoked ? answer.revoked
                             : (c.time_ms <= at && at < c.expires_ms ? answer.contributions
                                                                     : answer.inactive);
      list.push_back(contribution_of(c));
    });
    table.for_each_pending_revoke(*state, [&](const PendingRevokeView& r) {
      answer.pending_revokes.push_back({std::string(r.id), std::string(r.target),
                                        std::string(r.source), std::string(r.reason), r.time_ms,
                                        std::string(r.actor)});
    });
  }

 public:
  api::ExplainAnswer answer;

 private:
  const std::string& subject_;
  std::optional<std::int64_t> at_;
  bool explain_;
};

// A subject's whole record in time order: events accepted (with their terms),
// expiries (past or to come), revocations, revokes still waiting for their
// target, and tier changes, each with the score just after it.
class HistoryCommand final : public SubjectCommand {
 public:
  explicit HistoryCommand(const std::string& subject)
      : SubjectCommand(stable_hash64(subject)), subject_(subject) {}
  api::HistoryAnswer answer;

 protected:
  void run_held(ShardWorker& worker) override {
    answer = {};
    const std::int64_t now = worker.now_ms();
    const SubjectTable& table = worker.table();
    const SubjectState* state = table.find(subject_);
    const ScoreSum sum = state != nullptr ? table.score_at(*state, now) : ScoreSum{};
    answer.score = score_answer(worker.rules(), subject_, sum, now);
    if (state != nullptr) add_timeline(table, *state, worker.rules(), now);
  }

 private:
  using What = api::TimelineEntry::What;

  // At one instant: accepted, then revoked (or a revoke waiting), then
  // expired, then the tier change they cause.
  static int rank(What what) {
    switch (what) {
      case What::kAccepted:
        return 0;
      case What::kRevoked:
      case What::kRevokePending:
        return 1;
      case What::kExpired:
      case What::kExpires:
        return 2;
      case What::kTier:
        return 3;
    }
    return 4;
  }

  void add_timeline(const SubjectTable& table, const SubjectState& state, const RuleSet& rules,
                    std::int64_t now) {
    std::vector<api::TimelineEntry>& entries = answer.timeline;
    ScoreTimeline scores;  // a score after every entry: O(log n) each, not a pass
    scores.build(table, state);
    const auto score_at = [&](std::int64_t at) { return score_of(rules, scores.at(at).raw); };
    table.for_each_contribution(state, [&](const ContributionView& c) {
      entries.push_back({.time_ms = c.time_ms,
                         .what = What::kAccepted,
                         .id = std::string(c.id),
                         .type = std::string(c.type),
                         .points = c.points,
                         .rules_version = c.rules_version,
                         .source = std::string(c.source),
                         .expires_ms = c.expires_ms,
                         .revoked = c.revoked,
                         .score = score_at(c.time_ms)});
      if (c.revoked) {
        entries.push_back({.time_ms = c.revoked_at_ms,
                           .what = What::kRevoked,
                           .id = std::string(c.id),
                           .source = std::string(c.revoke_source),
                           .by = std::string(c.revoked_by),
                           .reason = std::string(c.revoke_reason),
                           .client = std::string(c.revoke_actor),
                           .score = score_at(c.revoked_at_ms)});
      } else if (c.expires_ms != kNever) {
        entries.push_back({.time_ms = c.expires_ms,
                           .what = c.expires_ms <= now ? What::kExpired : What::kExpires,
                           .id = std::string(c.id),
                           .points = -c.points,
                           .score = score_at(c.expires_ms)});
      }
    });
    table.for_each_pending_revoke(state, [&](const PendingRevokeView& r) {
      entries.push_back({.time_ms = r.time_ms,
                         .what = What::kRevokePending,
                         .id = std::string(r.id),
                         .source = std::string(r.source),
                         .reason = std::string(r.reason),
                         .client = std::string(r.actor),
                         .revokes = std::string(r.target)});
    });
    TierChangeFinder finder;
    finder.find(table, state, rules, std::numeric_limits<std::int64_t>::min() + 1,
                std::numeric_limits<std::int64_t>::max() - 1, TierChangeFinder::Causes::kAll,
                [&](const TierChange& change) {
                  entries.push_back({.time_ms = change.time_ms,
                                     .what = What::kTier,
                                     .from = std::string(change.from),
                                     .to = std::string(change.to),
                                     .cause = std::string(change.cause_id),
                                     .by_expiry = change.by_expiry,
                                     .score = change.score});
                });
    std::stable_sort(entries.begin(), entries.end(),
                     [](const api::TimelineEntry& a, const api::TimelineEntry& b) {
                       return a.time_ms != b.time_ms ? a.time_ms < b.time_ms
                                                     : rank(a.what) < rank(b.what);
                     });
  }

  const std::string& subject_;
};

struct Ranked {
  std::string subject;
  std::int64_t score;
};

// Orders the "better" entry first: by score in the requested direction,
// then by subject, so that answers are deterministic.
struct RankOrder {
  bool highest;
  bool operator()(const Ranked& a, const Ranked& b) const {
    if (a.score != b.score) return highest ? a.score > b.score : a.score < b.score;
    return a.subject < b.subject;
  }
};

class TopCommand final : public ShardCommand {
 public:
  TopCommand(std::size_t n, bool highest, std::int64_t at) : n_(n), order_{highest}, at_(at) {}

  void run(ShardWorker& worker) override {
    const RuleSet& rules = worker.rules();
    // A bounded heap: the worst of the kept entries on top.
    worker.table().for_each_subject([&](const SubjectState& state) {
      const std::int64_t score = score_of(rules, worker.table().score_at(state, at_).raw);
      const std::string_view subject = SubjectTable::subject_of(state);
      if (result.size() == n_) {
        const Ranked& worst = result.front();
        if (!order_(Ranked{std::string(subject), score}, worst)) return;
        std::pop_heap(result.begin(), result.end(), order_);
        result.pop_back();
      }
      result.push_back({std::string(subject), score});
      std::push_heap(result.begin(), result.end(), order_);
    });
  }

  std::vector<Ranked> result;

 private:
  std::size_t n_;
  RankOrder order_;
  std::int64_t at_;
};

}  // namespace

QueryHandler::QueryHandler(Engine& engine, const IngestCounters* ingest,
                           std::function<void()> while_waiting)
    : engine_(engine), ingest_(ingest), while_waiting_(std::move(while_waiting)) {}

std::string QueryHandler::handle(std::string_view request) {
  const Result<api::Request> parsed = api::parse_request(request, parser_);
  if (!parsed) return api::error_json(parsed.status());
  return handle(*parsed);
}

void QueryHandler::set_ownership(Ownership ownership) {
  if (ownership.owned.is_all()) {
    ownership_.reset();
    return;
  }
  ownership_ = std::move(ownership);
}

std::optional<api::MovedError> QueryHandler::moved(std::string_view subject) const {
  if (!ownership_ || ownership_->owned.contains_subject(subject)) return std::nullopt;
  api::MovedError moved;
  moved.partition = partition_of_subject(subject, ownership_->owned.partitions());
  if (ownership_->owners_of) moved.owners = ownership_->owners_of(moved.partition);
  moved.message = fmt::format("{} is in partition {}, not owned by node {} (it owns {}); ", subject,
                              moved.partition, ownership_->node, ownership_->owned.to_string());
  moved.message += moved.owners.empty() ? "no owner known yet (the stream shows no consumer of it)"
                                        : fmt::format("owners: {}", fmt::join(moved.owners, ", "));
  return moved;
}

std::string QueryHandler::handle(const api::Request& request) {
  if (const std::string* subject = api::subject_of(request)) {
    if (auto not_here = moved(*subject)) return api::to_json(*not_here);
  }
  return std::visit(
      [&](const auto& r) -> std::string {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, api::ScoreRequest>) return api::to_json(score(r));
        if constexpr (std::is_same_v<R, api::ExplainRequest>) return api::to_json(explain(r));
        if constexpr (std::is_same_v<R, api::HistoryRequest>) return api::to_json(history(r));
        if constexpr (std::is_same_v<R, api::TopRequest>) return api::to_json(top(r));
        if constexpr (std::is_same_v<R, api::StatsRequest>) return api::to_json(stats());
        if constexpr (std::is_same_v<R, api::ReloadRequest>) return api::to_json(reload());
        if constexpr (std::is_same_v<R, api::WorkersRequest>) {
          const auto answer = workers(r);
          return answer ? api::to_json(*answer) : api::error_json(answer.status());
        }
        if constexpr (std::is_same_v<R, api::SnapshotRequest>) {
          const auto answer = snapshot();
          return answer ? api::to_json(*answer) : api::error_json(answer.status());
        }
        if constexpr (std::is_same_v<R, api::ImpactRequest>) {
          const auto answer = impact(r);
          return answer ? api::to_json(*answer) : api::error_json(answer.status());
        }
        if constexpr (std::is_same_v<R, api::AlertsRequest>) {
          auto answer = alerts(r);
          return answer ? std::move(answer).value() : api::error_json(answer.status());
        }
      },
      request);
}

Result<std::string> QueryHandler::alerts(const api::AlertsRequest& request) {
  if (alert_log_ == nullptr) {
    return api::refusal(api::ErrorCode::kNotSupported, "this daemon keeps no alert log");
  }
  const Result<storage::AlertRange> range = alert_log_->read(request.since, request.limit);
  if (!range) return api::refusal(api::ErrorCode::kNotSupported, range.status().to_string());
  std::vector<std::string_view> bodies(range->bodies.begin(), range->bodies.end());
  const std::uint64_t missed =
      request.since > 0 && request.since < range->oldest ? range->oldest - request.since : 0;
  return api::alerts_json(bodies, range->next, range->oldest, range->last, missed);
}

api::ExplainAnswer QueryHandler::subject_answer(const std::string& subject,
                                                std::optional<std::int64_t> at_ms, bool explain) {
  ScoreCommand command(subject, at_ms, explain);
  engine_.run_on_subject(QueueRow::kControl, stable_hash64(subject), command, while_waiting_);
  return std::move(command.answer);
}

api::ScoreAnswer QueryHandler::score(const api::ScoreRequest& request) {
  return subject_answer(request.subject, request.at_ms, false).score;
}

api::ExplainAnswer QueryHandler::explain(const api::ExplainRequest& request) {
  return subject_answer(request.subject, request.at_ms, true);
}

api::HistoryAnswer QueryHandler::history(const api::HistoryRequest& request) {
  HistoryCommand command(request.subject);
  engine_.run_on_subject(QueueRow::kControl, stable_hash64(request.subject), command,
                         while_waiting_);
  return std::move(command.answer);
}

api::TopAnswer QueryHandler::top(const api::TopRequest& request) {
  const bool highest = request.order == api::Order::kHighest;
  const std::int64_t at = engine_.now_ms();
  std::deque<TopCommand> commands;  // deque: commands are not movable
  engine_.run_on_all(
      QueueRow::kControl,
      [&](std::uint32_t) { return &commands.emplace_back(request.n, highest, at); },
      while_waiting_);

  std::vector<Ranked> merged;
  for (auto& command : commands) {
    std::move(command.result.begin(), command.result.end(), std::back_inserter(merged));
  }
  std::sort(merged.begin(), merged.end(), RankOrder{highest});
  if (merged.size() > request.n) merged.resize(request.n);

  const RuleSet& rules = engine_.rules();
  api::TopAnswer answer{request.order, request.n, at, {}};
  answer.subjects.reserve(merged.size());
  for (Ranked& ranked : merged) {
    std::string tier(rules.tier_for(ranked.score));
    answer.subjects.push_back({std::move(ranked.subject), ranked.score, std::move(tier)});
  }
  return answer;
}

api::StatsAnswer QueryHandler::stats() {
  const std::vector<ShardStats> shards = engine_.stats(QueueRow::kControl, while_waiting_);
  api::StatsAnswer answer;
  if (ingest_ != nullptr) {
    answer.received = ingest_->received.load(std::memory_order_relaxed);
    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
      const std::uint64_t count = ingest_->rejected[r].load(std::memory_order_relaxed);
      answer.rejected_total += count;
      answer.rejected.emplace_back(kRejectReasonNames[r], count);
    }
  }
  answer.rules_version = engine_.rules().version();
  for (const ShardStats& shard : shards) {
    answer.accepted += shard.accepted;
    answer.duplicates += shard.duplicates;
    answer.subjects += shard.subjects;
    if (shard.worker == Engine::kRetiredWorkers) continue;  // in the totals only
    api::WorkerStats& worker = answer.workers.emplace_back();
    worker.worker = shard.worker;
    worker.accepted = shard.accepted;
    worker.duplicates = shard.duplicates;
    worker.subjects = shard.subjects;
    worker.queue_depth = shard.queue_depth;
    worker.busy_seconds = shard.busy_seconds;
    worker.memory_bytes = shard.memory_bytes;
    worker.recovered = shard.recovered;
    worker.journal_records = shard.journal_records;
    worker.journal_bytes = shard.journal_bytes;
    worker.journal_syncs = shard.journal_syncs;
    worker.journal_errors = shard.journal_errors;
    worker.journal_pending_bytes = shard.journal_pending_bytes;
  }
  return answer;
}

api::ReloadAnswer QueryHandler::reload() {
  std::function<void()> after;
  if (reload_step_) {
    Result<std::function<void()>> step = reload_step_();
    if (!step) return api::ReloadAnswer::refused(step.status());
    after = std::move(step).value();
  }
  Result<std::shared_ptr<const RuleSet>> result = engine_.reload();
  if (!result) return api::ReloadAnswer::refused(result.status());
  if (after) after();
  const RuleSet& rules = **result;
  return api::ReloadAnswer::loaded(rules.version(), rules.rules().size(), rules.source());
}

Result<api::SnapshotAnswer> QueryHandler::snapshot() {
  if (!engine_.journaled()) {
    return api::refusal(api::ErrorCode::kNotSupported,
                        "this daemon runs without a journal (--no-journal): there is no state on "
                        "disk to snapshot");
  }
  const SnapshotReport report = engine_.snapshot(while_waiting_);
  if (!report.ok) return api::refusal(api::ErrorCode::kSnapshotFailed, report.error);
  return api::SnapshotAnswer{report.generation, report.records, report.bytes, report.seconds,
                             report.longest_pause_seconds};
}

namespace {

// An impact that could not start, as the api's refusal.
Status impact_refusal(const Status& why) {
  if (why.code() == Status::Code::kBusy) {
    return api::refusal(api::ErrorCode::kBusy, std::string(why.message()));
  }
  return api::refusal(api::ErrorCode::kRulesRefused, why.to_string());
}

}  // namespace

Result<api::ImpactAnswer> QueryHandler::impact(const api::ImpactRequest& request) {
  Result<std::unique_ptr<ImpactJob>> job = ImpactJob::start(engine_, request);
  if (!job) return impact_refusal(job.status());
  (*job)->wait();
  return (*job)->answer();
}

QueryHandler::Reply QueryHandler::start_or_answer(std::string_view request, const Permit& permit) {
  const Result<api::Request> parsed = api::parse_request(request, parser_);
  if (!parsed) return api::error_json(parsed.status());
  if (permit) {
    if (const Status allowed = permit(*parsed); !allowed.is_ok()) return api::error_json(allowed);
  }
  if (const auto* impact_request = std::get_if<api::ImpactRequest>(&*parsed)) {
    Result<std::unique_ptr<ImpactJob>> job = ImpactJob::start(engine_, *impact_request);
    if (!job) return api::error_json(impact_refusal(job.status()));
    return std::move(job).value();
  }
  return handle(*parsed);
}

std::string QueryHandler::answer_of(const ImpactJob& job) { return api::to_json(job.answer()); }

Result<api::WorkersAnswer> QueryHandler::workers(const api::WorkersRequest& request) {
  if (request.set) {
    const Status started = engine_.rescale(*request.set);
    if (started.code() == Status::Code::kBusy) {
      return api::refusal(api::ErrorCode::kBusy, std::string(started.message()));
    }
    if (started.code() == Status::Code::kOutOfRange) {
      return api::refusal(api::ErrorCode::kBadField, std::string(started.message()));
    }
    if (!started.is_ok()) {
      return api::refusal(api::ErrorCode::kNotSupported, std::string(started.message()));
    }
  }
  api::WorkersAnswer answer;
  const std::vector<ShardStats> shards = engine_.stats(QueueRow::kControl, while_waiting_);
  const std::vector<double> utilisation = engine_.utilisation();
  for (const ShardStats& shard : shards) {
    if (shard.worker == Engine::kRetiredWorkers) continue;
    api::WorkerLoad& load = answer.per_worker.emplace_back();
    load.worker = shard.worker;
    load.utilisation = shard.worker < utilisation.size() ? utilisation[shard.worker] : 0.0;
    load.queue_depth = shard.queue_depth;
    load.subjects = shard.subjects;
    load.key_groups = shard.key_groups;
  }
  answer.workers = static_cast<std::uint32_t>(answer.per_worker.size());
  const RescaleProgress progress = engine_.rescale_progress();
  if (progress.state != RescaleProgress::State::kNone) {
    api::RescaleStatus& status = answer.rescale.emplace();
    status.state = progress.state == RescaleProgress::State::kRunning ? "running"
                   : progress.state == RescaleProgress::State::kDone  ? "done"
                                                                      : "failed";
    status.from = progress.from;
    status.to = progress.to;
    status.groups_total = progress.groups_total;
    status.groups_moved = progress.groups_moved;
    status.subjects_moved = progress.subjects_moved;
    status.seconds = progress.seconds;
    status.longest_pause_seconds = progress.longest_pause_seconds;
    status.error = progress.error;
  }
  return answer;
}

}  // namespace tally::scorer
