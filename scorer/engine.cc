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
      types_(rules.get()),
      done_tickets_(kMaxQueueWorkers),
      workers_(kMaxQueueWorkers),
      threads_(kMaxQueueWorkers) {
  rule_history_.push_back(std::move(rules));
  if (options_.expected_subjects > 0) {
    options_.worker.table.expected_subjects =
        options_.expected_subjects / std::max<std::uint32_t>(1, options_.workers);
  }
  for (std::uint32_t id = 0; id < options_.workers; ++id) add_worker(id, groups_of(id));
}

Engine::~Engine() { stop(); }

std::bitset<kKeyGroups> Engine::groups_of(std::uint32_t worker) const {
  std::bitset<kKeyGroups> held;
  for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
    if (groups_.worker_of_group(group) == worker) held.set(group);
  }
  return held;
}

void Engine::add_worker(std::uint32_t id, std::bitset<kKeyGroups> held) {
  queues_.add_worker(id);
  if (!done_tickets_[id]) done_tickets_[id] = std::make_unique<TicketQueue>();
  ShardContext context{&rules_, &event_clock_, &interns_, &refusals_};
  workers_[id] = std::make_unique<ShardWorker>(id, options_.worker, context, queues_,
                                               *done_tickets_[id], held);
  {
    const std::lock_guard lock(alert_sources_mutex_);
    alert_sources_.push_back(workers_[id].get());
  }
  if (started_.load(std::memory_order_acquire)) {
    threads_[id] = std::thread([this, w = workers_[id].get()] { w->run(stop_); });
  }
  active_.store(id + 1, std::memory_order_release);
}

std::vector<TicketQueue*> Engine::done_ticket_queues() {
  std::vector<TicketQueue*> queues;
  for (std::uint32_t id = 0; id < workers(); ++id) queues.push_back(done_tickets_[id].get());
  return queues;
}

void Engine::start() {
  stop_.store(false);
  started_.store(true, std::memory_order_release);
  for (std::uint32_t id = 0; id < workers(); ++id) {
    threads_[id] = std::thread([this, w = workers_[id].get()] { w->run(stop_); });
  }
}

void Engine::stop() {
  stop_rescale();
  stop_.store(true, std::memory_order_release);
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  started_.store(false, std::memory_order_release);
}

Result<std::shared_ptr<const RuleSet>> Engine::reload() {
  return put_in_force(load_rules_file(options_.rules_path, next_rules_version_));
}

Result<std::shared_ptr<const RuleSet>> Engine::install_rules(std::string_view toml_text,
                                                             std::string_view name) {
  return put_in_force(parse_rules(toml_text, name, next_rules_version_));
}

Result<std::shared_ptr<const RuleSet>> Engine::put_in_force(
    Result<std::shared_ptr<const RuleSet>> result) {
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

Result<storage::RecoveryReport> Engine::recover(
    const std::function<void(const storage::journal::Record&)>& journaled_alert) {
  if (!journaled()) return storage::RecoveryReport{};
  const auto start = std::chrono::steady_clock::now();
  storage::Env* env = options_.worker.env;
  auto scanned = storage::scan_state_dir(env, options_.worker.journal.dir);
  if (!scanned.is_ok()) return scanned.status();
  const storage::StateFiles& files = *scanned;
  const std::uint32_t ingest_row = static_cast<std::uint32_t>(QueueRow::kIngest);
  // Staged per worker and pushed in runs, as the ingest thread does.
  constexpr std::size_t kRun = 256;
  std::vector<std::vector<WorkItem>> staged(workers());
  for (auto& items : staged) items.reserve(kRun);
  const auto push = [&](std::uint32_t worker) {
    push_blocking(queues_.at(ingest_row, worker), staged[worker].data(), staged[worker].size(),
                  [] { return false; });
    staged[worker].clear();
  };
  WorkItem item;
  item.kind = WorkKind::kReplay;
  auto read = storage::read_state(env, files, [&](const storage::journal::Record& record) {
    if (record.kind == storage::journal::RecordKind::kAlert) {
      if (journaled_alert) journaled_alert(record);
      return;
    }
    Event& event = item.event;
    event.id.assign(record.id);
    event.subject.assign(record.subject);
    event.source.assign(record.source);
    event.revokes.assign(record.revokes);
    event.reason.assign(record.reason);
    event.actor_ref = record.actor.empty() ? kNoActor : interns_.intern_source(record.actor);
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
  std::deque<BarrierCommand> barriers;  // not movable: they hold atomics
  run_on_all(QueueRow::kIngest, [&](std::uint32_t) { return &barriers.emplace_back(); });
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

  const std::uint64_t generation = files.next_generation;
  next_generation_.store(generation + 1);
  std::deque<OpenJournalCommand> opens;
  run_on_all(QueueRow::kIngest, [&](std::uint32_t) { return &opens.emplace_back(generation); });
  for (const OpenJournalCommand& opened : opens) {
    if (!opened.result.is_ok()) return opened.result.with_context("cannot start the journal");
  }
  return std::move(report);
}

Status Engine::open_journal(std::uint32_t worker, std::uint64_t generation) {
  OpenJournalCommand command(generation);
  run_on(QueueRow::kBackground, worker, command);
  return command.result;
}

std::uint64_t Engine::journal_records() const noexcept {
  // A plain read of each running worker's atomic; a worker removed
  // meanwhile keeps its object (retired_), so a stale count is still safe.
  std::uint64_t total = 0;
  const std::shared_lock lock(topology_);
  for (std::uint32_t id = 0; id < workers(); ++id) total += workers_[id]->journaled_records();
  for (const auto& worker : retired_) total += worker->journaled_records();
  return total;
}

SnapshotReport Engine::snapshot(const std::function<void()>& while_waiting) {
  SnapshotReport report;
  if (!journaled()) {
    report.error = "no journal (the daemon runs with --no-journal): nothing to snapshot";
    return report;
  }
  // Waits for another snapshot (draining alerts meanwhile); refuses during
  // a worker-count change rather than waiting for all of it.
  std::unique_lock lock(snapshot_mutex_, std::defer_lock);
  Backoff backoff;
  while (!lock.try_lock()) {
    if (rescaling()) {
      report.error = "busy: a worker-count change is running; a snapshot waits until it ends";
      return report;
    }
    if (while_waiting) while_waiting();
    backoff.pause();
  }
  const auto start = std::chrono::steady_clock::now();
  report.generation = next_generation_.fetch_add(1);
  std::deque<SnapshotCommand> commands;  // not movable: they hold atomics
  const std::uint32_t parts = run_on_all(
      QueueRow::kSnapshot, [&](std::uint32_t) { return &commands.emplace_back(report.generation); },
      while_waiting);
  for (const SnapshotCommand& command : commands) {
    const SnapshotPartOutcome& part = command.result;
    if (!part.status.is_ok() && report.error.empty()) report.error = part.status.to_string();
    report.records += part.part.records;
    report.bytes += part.part.bytes;
    report.longest_pause_seconds = std::max(report.longest_pause_seconds, part.seconds);
  }
  if (report.error.empty()) {
    Status completed = options_.alert_log ? wait_for_alert_log(while_waiting) : Status::ok();
    if (completed.is_ok()) {
      completed = storage::complete_snapshot(options_.worker.env, options_.worker.journal.dir,
                                             report.generation, parts);
    }
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

Status Engine::wait_for_alert_log(const std::function<void()>& while_waiting) {
  // Every worker has moved to the new generation: what its old journals
  // alerted is queued by now (take_snapshot writes, then queues).
  std::uint64_t queued = 0;
  {
    const std::lock_guard lock(alert_sources_mutex_);
    for (const ShardWorker* worker : alert_sources_) queued += worker->alerts_queued();
  }
  const auto deadline = std::chrono::steady_clock::now() + kAlertLogWait;
  Backoff backoff;
  while (alerts_logged_.load(std::memory_order_acquire) < queued) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::unavailable(
          "the alert log has not taken the alerts of the journals this snapshot replaces "
          "(can it be written? see the log); the journals are kept, the next snapshot retries");
    }
    if (while_waiting) while_waiting();
    backoff.pause();
  }
  return Status::ok();
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

std::shared_lock<std::shared_mutex> Engine::lock_shared(
    std::shared_mutex& mutex, const std::function<void()>& while_waiting) {
  std::shared_lock lock(mutex, std::try_to_lock);
  Backoff backoff;
  while (!lock.owns_lock()) {
    if (while_waiting) while_waiting();
    backoff.pause();
    lock = std::shared_lock(mutex, std::try_to_lock);
  }
  return lock;
}

void Engine::run_on(QueueRow from, std::uint32_t worker, ShardCommand& command,
                    const std::function<void()>& while_waiting) {
  const auto lock = lock_shared(topology_, while_waiting);
  send(from, worker, command);
  wait_for(command, while_waiting);
}

void Engine::run_on_subject(QueueRow from, std::uint64_t subject_hash, SubjectCommand& command,
                            const std::function<void()>& while_waiting) {
  Backoff backoff;
  while (true) {
    {
      const auto lock = lock_shared(topology_, while_waiting);
      send(from, groups_.worker_of(subject_hash), command);
      wait_for(command, while_waiting);
    }
    if (!command.misrouted()) return;
    // The group is moving: its new owner installs it within a wave.
    command.rearm();
    backoff.pause();
  }
}

void Engine::wait_for(const ShardCommand& command, const std::function<void()>& while_waiting) {
  Backoff backoff;
  while (!command.done()) {
    if (while_waiting) while_waiting();
    backoff.pause();
  }
}

std::uint32_t Engine::run_on_all(
    QueueRow from, const std::function<ShardCommand*(std::uint32_t worker)>& command_for,
    const std::function<void()>& while_waiting) {
  const auto topology = lock_shared(topology_, while_waiting);
  const auto still = lock_shared(moving_, while_waiting);
  const std::uint32_t count = workers();
  std::vector<ShardCommand*> commands;
  commands.reserve(count);
  for (std::uint32_t worker = 0; worker < count; ++worker) {
    commands.push_back(command_for(worker));
    send(from, worker, *commands.back());
  }
  for (ShardCommand* command : commands) wait_for(*command, while_waiting);
  return count;
}

std::vector<ShardStats> Engine::stats(QueueRow from, const std::function<void()>& while_waiting) {
  std::unique_lock<std::mutex> lock(metrics_mutex_, std::defer_lock);
  if (from == QueueRow::kMetrics) lock.lock();
  std::deque<StatsCommand> commands;
  run_on_all(
      from, [&](std::uint32_t) { return &commands.emplace_back(); }, while_waiting);
  std::vector<ShardStats> result;
  for (auto& command : commands) result.push_back(std::move(command.result));
  const auto topology = lock_shared(topology_, while_waiting);
  if (retired_any_) result.push_back(retired_stats_);
  return result;
}

Engine::Load Engine::load() const {
  Load load;
  // Never waits: its caller (the control thread) must keep draining alerts
  // while a worker is being removed.
  const std::shared_lock lock(topology_, std::try_to_lock);
  if (!lock.owns_lock()) return load;
  for (std::uint32_t id = 0; id < workers(); ++id) {
    load.busy_ns.push_back(workers_[id]->busy_ns());
    load.queue_depth.push_back(queues_.depth(id));
    load.key_groups.push_back(workers_[id]->groups_held());
  }
  return load;
}

void Engine::sample_utilisation() {
  const Load now = load();
  if (now.busy_ns.empty()) return;  // the workers are changing: the next sample
  const auto at = std::chrono::steady_clock::now();
  const std::lock_guard lock(utilisation_mutex_);
  const double elapsed_ns = std::chrono::duration<double, std::nano>(at - sampled_at_).count();
  utilisation_.assign(now.busy_ns.size(), 0.0);
  for (std::size_t w = 0; w < now.busy_ns.size() && w < sampled_busy_ns_.size(); ++w) {
    // A slot re-used by a new worker starts again from 0: no negative share.
    const auto busy =
        static_cast<double>(std::max<std::int64_t>(0, now.busy_ns[w] - sampled_busy_ns_[w]));
    if (elapsed_ns > 0) utilisation_[w] = std::min(1.0, busy / elapsed_ns);
  }
  sampled_busy_ns_ = now.busy_ns;
  sampled_at_ = at;
}

std::vector<double> Engine::utilisation() const {
  const std::lock_guard lock(utilisation_mutex_);
  return utilisation_;
}

void Engine::drain_alerts(const std::function<void(const Alert&)>& sink) {
  const std::lock_guard lock(alert_sources_mutex_);
  for (ShardWorker* worker : alert_sources_) worker->alerts().consume_all(sink);
}

ApplyOutcome Engine::apply_directly(const Event& event) {
  return workers_[groups_.worker_of(event.subject_hash)]->apply(event, now_ms());
}

}  // namespace tally::scorer
