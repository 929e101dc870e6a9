#include "scorer/engine.h"

#include <fmt/format.h>

#include <chrono>

#include "core/backoff.h"
#include "storage/state_dir.h"

namespace tally::scorer {
namespace {

class StatsCommand final : public ShardCommand {
 public:
  void run(ShardWorker& worker) override { result = worker.stats(); }
  ShardStats result;
};

// Runs one of a worker's storage steps for a generation on the worker's own
// thread (which alone touches its journal once run() has begun), keeping
// what it returned.
template <typename Outcome, Outcome (ShardWorker::*kStep)(std::uint64_t)>
class GenerationCommand final : public ShardCommand {
 public:
  explicit GenerationCommand(std::uint64_t generation) : generation_(generation) {}
  void run(ShardWorker& worker) override { result = (worker.*kStep)(generation_); }
  Outcome result;

 private:
  std::uint64_t generation_;
};
using SnapshotCommand = GenerationCommand<SnapshotPartOutcome, &ShardWorker::take_snapshot>;
using OpenJournalCommand = GenerationCommand<Status, &ShardWorker::open_journal>;

// Runs after everything queued before it on the same row: a barrier.
class BarrierCommand final : public ShardCommand {
 public:
  void run(ShardWorker&) override {}
};

static_assert(static_cast<std::uint32_t>(QueueRow::kIngest) == 0,
              "ShardWorker holds back row 0 when its journal is over its buffer limit");

}  // namespace

Engine::Engine(ScorerOptions options, std::shared_ptr<const RuleSet> rules)
    : options_(std::move(options)),
      groups_(options_.workers),
      queues_(kQueueRows, options_.workers),
      rules_(rules.get()),
      types_(rules.get()) {
  rule_history_.push_back(std::move(rules));
  ShardContext context{&rules_, &event_clock_, &interns_};
  for (std::uint32_t id = 0; id < options_.workers; ++id) {
    done_tickets_.push_back(std::make_unique<TicketQueue>());
    workers_.push_back(std::make_unique<ShardWorker>(id, options_.worker, context, queues_,
                                                     *done_tickets_.back()));
  }
}

Engine::~Engine() { stop(); }

std::vector<TicketQueue*> Engine::done_ticket_queues() {
  std::vector<TicketQueue*> queues;
  for (auto& queue : done_tickets_) queues.push_back(queue.get());
  return queues;
}

void Engine::start() {
  stop_.store(false);
  for (auto& worker : workers_) {
    threads_.emplace_back([this, w = worker.get()] { w->run(stop_); });
  }
}

void Engine::stop() {
  stop_.store(true, std::memory_order_release);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

Result<std::shared_ptr<const RuleSet>> Engine::reload() {
  Result<std::shared_ptr<const RuleSet>> result =
      load_rules_file(options_.rules_path, next_rules_version_);
  if (result) {
    ++next_rules_version_;  // only loaded sets take a number
    rule_history_.push_back(*result);
    rules_.store(result->get(), std::memory_order_release);
    types_.store(result->get(), std::memory_order_release);
    reloads_ok_.fetch_add(1, std::memory_order_relaxed);
  } else {
    reloads_refused_.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

const Rule* Engine::recovered_rule(const storage::journal::Record& record) {
  const bool is_revoke = record.kind == storage::journal::RecordKind::kRevoke;
  if (is_revoke) return &recovered_revoke();
  std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}", record.type, record.rules_version,
                                record.points, record.expires_after_ms);
  if (const auto it = recovered_rule_index_.find(key); it != recovered_rule_index_.end()) {
    return it->second;
  }
  Rule& rule = recovered_rules_.emplace_back();
  rule.name = std::string(record.type);
  rule.points = record.points;
  rule.expires_after_ms = record.expires_after_ms;
  rule.rules_version = record.rules_version;
  rule.description = "(recovered from the journal)";
  // A rule of the same version still loaded has its description.
  for (const auto& set : rule_history_) {
    if (set->version() != record.rules_version) continue;
    if (const Rule* live = set->find(record.type)) rule.description = live->description;
  }
  recovered_rule_index_.emplace(std::move(key), &rule);
  return &rule;
}

const Rule& Engine::recovered_revoke() {
  if (recovered_revoke_ == nullptr) {
    Rule& rule = recovered_rules_.emplace_back();
    rule.name = std::string(RuleSet::kRevokeType);
    rule.is_revoke = true;
    recovered_revoke_ = &rule;
  }
  return *recovered_revoke_;
}

Result<storage::RecoveryReport> Engine::recover() {
  if (!journaled()) return storage::RecoveryReport{};
  const auto start = std::chrono::steady_clock::now();
  storage::Env* env = options_.worker.env;
  auto scanned = storage::scan_state_dir(env, options_.worker.journal.dir);
  if (!scanned.is_ok()) return scanned.status();
  const storage::StateFiles& files = *scanned;
  const std::uint32_t ingest_row = static_cast<std::uint32_t>(QueueRow::kIngest);
  // Staged per worker and pushed in runs, as the ingest thread does.
  constexpr std::size_t kRun = 256;
  std::vector<std::vector<WorkItem>> staged(workers_.size());
  for (auto& items : staged) items.reserve(kRun);
  const auto push = [&](std::uint32_t worker) {
    push_blocking(queues_.at(ingest_row, worker), staged[worker].data(), staged[worker].size(),
                  [] { return false; });
    staged[worker].clear();
  };
  WorkItem item;
  item.kind = WorkKind::kReplay;
  auto read = storage::read_state(env, files, [&](const storage::journal::Record& record) {
    Event& event = item.event;
    event.id.assign(record.id);
    event.subject.assign(record.subject);
    event.source.assign(record.source);
    event.revokes.assign(record.revokes);
    event.reason.assign(record.reason);
    event.time_ms = record.time_ms;
    event.type = recovered_rule(record);
    event.subject_hash = stable_hash64(record.subject);
    const std::uint32_t worker = groups_.worker_of(event.subject_hash);
    staged[worker].push_back(item);
    if (staged[worker].size() == kRun) push(worker);
  });
  if (!read.is_ok()) return read.status();
  storage::RecoveryReport& report = *read;
  for (std::uint32_t worker = 0; worker < staged.size(); ++worker) push(worker);
  std::vector<BarrierCommand> barriers(workers_.size());
  std::vector<ShardCommand*> pointers;
  for (auto& barrier : barriers) pointers.push_back(&barrier);
  run_on_all(QueueRow::kIngest, pointers);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::int64_t clock = event_clock_.load();
  while (report.max_time_ms > clock &&
         !event_clock_.compare_exchange_weak(clock, report.max_time_ms)) {
  }
  // Versions go on from the largest recovered, so `explain` never shows two
  // different rule sets under one number.
  if (report.max_rules_version >= rules().version()) {
    next_rules_version_ = report.max_rules_version + 1;
    Result<std::shared_ptr<const RuleSet>> renumbered =
        load_rules_file(options_.rules_path, next_rules_version_++);
    if (renumbered) {
      rule_history_.push_back(*renumbered);
      rules_.store(renumbered->get(), std::memory_order_release);
      types_.store(renumbered->get(), std::memory_order_release);
    }
  }

  next_generation_ = files.next_generation;
  std::deque<OpenJournalCommand> opens;  // not movable: they hold atomics
  pointers.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    pointers.push_back(&opens.emplace_back(next_generation_));
  }
  run_on_all(QueueRow::kIngest, pointers);
  for (const OpenJournalCommand& opened : opens) {
    if (!opened.result.is_ok()) return opened.result.with_context("cannot start the journal");
  }
  ++next_generation_;
  return std::move(report);
}

std::uint64_t Engine::journal_records() const noexcept {
  std::uint64_t total = 0;
  for (const auto& worker : workers_) total += worker->journaled_records();
  return total;
}

SnapshotReport Engine::snapshot(const std::function<void()>& while_waiting) {
  const std::lock_guard lock(snapshot_mutex_);
  SnapshotReport report;
  if (!journaled()) {
    report.error = "no journal (the daemon runs with --no-journal): nothing to snapshot";
    return report;
  }
  const auto start = std::chrono::steady_clock::now();
  report.generation = next_generation_++;
  std::deque<SnapshotCommand> commands;  // not movable: they hold atomics
  for (std::size_t i = 0; i < workers_.size(); ++i) commands.emplace_back(report.generation);
  std::vector<ShardCommand*> pointers;
  for (auto& command : commands) pointers.push_back(&command);
  run_on_all(QueueRow::kSnapshot, pointers, while_waiting);
  for (const SnapshotCommand& command : commands) {
    const SnapshotPartOutcome& part = command.result;
    if (!part.status.is_ok() && report.error.empty()) report.error = part.status.to_string();
    report.records += part.part.records;
    report.bytes += part.part.bytes;
    report.longest_pause_seconds = std::max(report.longest_pause_seconds, part.seconds);
  }
  if (report.error.empty()) {
    const Status completed = storage::complete_snapshot(
        options_.worker.env, options_.worker.journal.dir, report.generation, workers());
    if (completed.is_ok()) {
      report.ok = true;
      snapshots_taken_.fetch_add(1, std::memory_order_relaxed);
    } else {
      report.error = completed.to_string();
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::int64_t Engine::now_ms() const noexcept {
  if (rules().score().clock == Clock::kEvent) return event_clock_.load(std::memory_order_relaxed);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Engine::send(QueueRow from, std::uint32_t worker, ShardCommand& command) {
  WorkItem item;
  item.kind = WorkKind::kCommand;
  item.command = &command;
  push_blocking(queues_.at(static_cast<std::uint32_t>(from), worker), &item, 1,
                [] { return false; });
}

void Engine::run_on(QueueRow from, std::uint32_t worker, ShardCommand& command,
                    const std::function<void()>& while_waiting) {
  send(from, worker, command);
  wait_for(command, while_waiting);
}

void Engine::wait_for(const ShardCommand& command, const std::function<void()>& while_waiting) {
  Backoff backoff;
  while (!command.done()) {
    if (while_waiting) while_waiting();
    backoff.pause();
  }
}

void Engine::run_on_all(QueueRow from, const std::vector<ShardCommand*>& commands,
                        const std::function<void()>& while_waiting) {
  for (std::uint32_t worker = 0; worker < commands.size(); ++worker) {
    send(from, worker, *commands[worker]);
  }
  for (ShardCommand* command : commands) wait_for(*command, while_waiting);
}

std::vector<ShardStats> Engine::stats(QueueRow from, const std::function<void()>& while_waiting) {
  std::unique_lock<std::mutex> lock(metrics_mutex_, std::defer_lock);
  if (from == QueueRow::kMetrics) lock.lock();
  std::vector<StatsCommand> commands(workers_.size());
  std::vector<ShardCommand*> pointers;
  for (auto& command : commands) pointers.push_back(&command);
  run_on_all(from, pointers, while_waiting);
  std::vector<ShardStats> result;
  for (auto& command : commands) result.push_back(std::move(command.result));
  return result;
}

void Engine::drain_alerts(const std::function<void(const Alert&)>& sink) {
  for (auto& worker : workers_) worker->alerts().consume_all(sink);
}

ApplyOutcome Engine::apply_directly(const Event& event) {
  return workers_[groups_.worker_of(event.subject_hash)]->apply(event, now_ms());
}

}  // namespace tally::scorer
