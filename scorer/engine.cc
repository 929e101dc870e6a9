#include "scorer/engine.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "scorer/state_dir.h"
#include "stream/backoff.h"

namespace tally::scorer {
namespace {

class StatsCommand final : public ShardCommand {
 public:
  void run(ShardWorker& worker) override { result = worker.stats(); }
  ShardStats result;
};

class SnapshotCommand final : public ShardCommand {
 public:
  explicit SnapshotCommand(std::uint64_t generation) : generation_(generation) {}
  void run(ShardWorker& worker) override { result = worker.take_snapshot(generation_); }
  SnapshotPartOutcome result;

 private:
  std::uint64_t generation_;
};

// Runs after everything queued before it on the same row: a barrier.
class BarrierCommand final : public ShardCommand {
 public:
  void run(ShardWorker&) override {}
};

static_assert(static_cast<std::uint32_t>(Producer::kIngest) == 0,
              "ShardWorker holds back row 0 when its journal is over its buffer limit");

}  // namespace

Engine::Engine(ScorerOptions options, std::shared_ptr<const RuleSet> rules)
    : options_(std::move(options)),
      groups_(options_.workers),
      queues_(kProducerCount, options_.workers),
      rules_(rules.get()),
      types_(rules.get()) {
  rule_history_.push_back(std::move(rules));
  ShardContext context{&rules_, &event_clock_};
  for (std::uint32_t id = 0; id < options_.workers; ++id) {
    done_tickets_.push_back(std::make_unique<stream::TicketQueue>());
    workers_.push_back(std::make_unique<ShardWorker>(id, options_.worker, context, queues_,
                                                     *done_tickets_.back()));
  }
}

Engine::~Engine() { stop(); }

std::vector<stream::TicketQueue*> Engine::done_ticket_queues() {
  std::vector<stream::TicketQueue*> queues;
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

RulesResult Engine::reload() {
  RulesResult result = load_rules_file(options_.rules_path, next_rules_version_);
  if (auto* loaded = std::get_if<std::shared_ptr<const RuleSet>>(&result)) {
    ++next_rules_version_;  // only loaded sets take a number
    rule_history_.push_back(*loaded);
    rules_.store(loaded->get(), std::memory_order_release);
    types_.store(loaded->get(), std::memory_order_release);
    reloads_ok_.fetch_add(1, std::memory_order_relaxed);
  } else {
    reloads_refused_.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

const Rule* Engine::recovered_rule(const journal::Record& record) {
  const bool is_revoke = record.kind == journal::RecordKind::kRevoke;
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

RecoveryReport Engine::recover() {
  const auto start = std::chrono::steady_clock::now();
  const std::string& dir = options_.worker.journal.dir;
  const StateFiles files = scan_state_dir(dir);
  const std::uint32_t ingest_row = static_cast<std::uint32_t>(Producer::kIngest);
  // Staged per worker and pushed in runs, as the ingest thread does.
  constexpr std::size_t kRun = 256;
  std::vector<std::vector<stream::WorkItem>> staged(workers_.size());
  for (auto& items : staged) items.reserve(kRun);
  const auto push = [&](std::uint32_t worker) {
    stream::push_blocking(queues_.at(ingest_row, worker), staged[worker].data(),
                          staged[worker].size(), [] { return false; });
    staged[worker].clear();
  };
  stream::WorkItem item;
  item.kind = stream::WorkKind::kReplay;
  RecoveryReport report = read_state(files, [&](const journal::Record& record) {
    stream::Event& event = item.event;
    event.id.assign(record.id);
    event.subject.assign(record.subject);
    event.source.assign(record.source);
    event.revokes.assign(record.revokes);
    event.reason.assign(record.reason);
    event.time_ms = record.time_ms;
    event.type = recovered_rule(record);
    event.subject_hash = stream::stable_hash64(record.subject);
    const std::uint32_t worker = groups_.worker_of(event.subject_hash);
    staged[worker].push_back(item);
    if (staged[worker].size() == kRun) push(worker);
  });
  for (std::uint32_t worker = 0; worker < staged.size(); ++worker) push(worker);
  std::vector<BarrierCommand> barriers(workers_.size());
  std::vector<ShardCommand*> pointers;
  for (auto& barrier : barriers) pointers.push_back(&barrier);
  run_on_all(Producer::kIngest, pointers);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::int64_t clock = event_clock_.load();
  while (report.max_time_ms > clock &&
         !event_clock_.compare_exchange_weak(clock, report.max_time_ms)) {
  }
  // Versions go on from the largest recovered, so `explain` never shows two
  // different rule sets under one number.
  if (report.max_rules_version >= rules().version()) {
    next_rules_version_ = report.max_rules_version + 1;
    RulesResult renumbered = load_rules_file(options_.rules_path, next_rules_version_++);
    if (auto* loaded = std::get_if<std::shared_ptr<const RuleSet>>(&renumbered)) {
      rule_history_.push_back(*loaded);
      rules_.store(loaded->get(), std::memory_order_release);
      types_.store(loaded->get(), std::memory_order_release);
    }
  }

  next_generation_ = files.next_generation;
  for (auto& worker : workers_) {
    if (const int error = worker->open_journal(next_generation_); error != 0) {
      throw StateError(fmt::format("{}: cannot start the journal: {}", worker->journal_path(),
                                   std::strerror(error)));
    }
  }
  ++next_generation_;
  return report;
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
  run_on_all(Producer::kSnapshot, pointers, while_waiting);
  for (const SnapshotCommand& command : commands) {
    const SnapshotPartOutcome& part = command.result;
    if (part.error != 0 && report.error.empty()) {
      report.error = fmt::format("{}: {}", part.where, std::strerror(part.error));
    }
    report.records += part.part.records;
    report.bytes += part.part.bytes;
    report.longest_pause_seconds = std::max(report.longest_pause_seconds, part.seconds);
  }
  if (report.error.empty()) {
    try {
      complete_snapshot(options_.worker.journal.dir, report.generation, workers());
      report.ok = true;
      snapshots_taken_.fetch_add(1, std::memory_order_relaxed);
    } catch (const StateError& error) {
      report.error = error.what();
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

void Engine::send(Producer from, std::uint32_t worker, ShardCommand& command) {
  stream::WorkItem item;
  item.kind = stream::WorkKind::kCommand;
  item.command = &command;
  stream::push_blocking(queues_.at(static_cast<std::uint32_t>(from), worker), &item, 1,
                        [] { return false; });
}

void Engine::run_on(Producer from, std::uint32_t worker, ShardCommand& command,
                    const std::function<void()>& while_waiting) {
  send(from, worker, command);
  wait_for(command, while_waiting);
}

void Engine::wait_for(const ShardCommand& command, const std::function<void()>& while_waiting) {
  stream::Backoff backoff;
  while (!command.done()) {
    if (while_waiting) while_waiting();
    backoff.pause();
  }
}

void Engine::run_on_all(Producer from, const std::vector<ShardCommand*>& commands,
                        const std::function<void()>& while_waiting) {
  for (std::uint32_t worker = 0; worker < commands.size(); ++worker) {
    send(from, worker, *commands[worker]);
  }
  for (ShardCommand* command : commands) wait_for(*command, while_waiting);
}

std::vector<ShardStats> Engine::stats(Producer from, const std::function<void()>& while_waiting) {
  std::unique_lock<std::mutex> lock(metrics_mutex_, std::defer_lock);
  if (from == Producer::kMetrics) lock.lock();
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

ApplyOutcome Engine::apply_directly(const stream::Event& event) {
  return workers_[groups_.worker_of(event.subject_hash)]->apply(event, now_ms());
}

}  // namespace tally::scorer
