// The scoring engine: the shard workers, the queues that feed them, the key
// group map that routes to them, and the current rule set.
//
// Queue rows: every thread that sends work to the workers has its own row of
// single-producer queues in the QueueMatrix (QueueRow below), so no queue ever
// has two writers. The engine itself never touches scoring state; it sends
// commands.
//
// Interning: the engine owns the InternTable that every worker's table shares
// (intern_table.h), so rule and source refs mean the same in every shard and
// nothing about them is process-wide.
//
// Rules: the current RuleSet is published through an atomic pointer; every
// RuleSet ever published is kept alive (events and contributions point into
// them), so a reader never sees a freed set.
//
// Thread-safety: start/stop/reload from the control thread; run_on with the
// caller's own QueueRow; alerts drained by the control thread only.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/key_groups.h"
#include "core/status.h"
#include "core/work_queue.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"
#include "scorer/shard_stats.h"
#include "scorer/shard_worker.h"
#include "storage/recovery.h"

namespace tally::scorer {

// The rows of the queue matrix, one per sending thread: a row is that
// thread's single-producer queue to each worker.
enum class QueueRow : std::uint32_t {
  kIngest = 0,    // the ingest thread: events
  kControl = 1,   // the query/control thread: queries
  kMetrics = 2,   // the metrics scrape: stats requests
  kSnapshot = 3,  // whoever takes a snapshot (serialised by the engine)
};
inline constexpr std::uint32_t kQueueRows = 4;
// Recovery replays through the kIngest row: it runs before ingest starts.

// A whole snapshot: every worker's part, then the marker.
struct SnapshotReport {
  bool ok = false;
  std::string error;  // why not, naming the file
  std::uint64_t generation = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;                // start to marker
  double longest_pause_seconds = 0;  // the longest a worker stopped applying
};

struct ScorerOptions {
  // Shard workers. Default: the number of cores.
  std::uint32_t workers = std::max(1u, std::thread::hardware_concurrency());
  // The rules file, re-read by reload().
  std::string rules_path;
  WorkerOptions worker;
};

class Engine {
 public:
  Engine(ScorerOptions options, std::shared_ptr<const RuleSet> rules);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Wiring for the ingest side.
  QueueMatrix& queues() noexcept { return queues_; }
  const KeyGroupMap& groups() const noexcept { return groups_; }
  const std::atomic<const EventTypeResolver*>& types() const noexcept { return types_; }
  std::atomic<std::int64_t>& event_clock() noexcept { return event_clock_; }
  std::vector<TicketQueue*> done_ticket_queues();

  // Replays a data directory's snapshot and journals into the workers (which
  // must be started, with ingest not yet running), then starts the journals
  // in a generation above every file seen. Records are routed by subject, so
  // the worker count may differ from the one that wrote them. Rule versions
  // continue above the largest one recovered. Without a journal: nothing to
  // do, an empty report. A failure (damaged state, a journal that cannot be
  // started) names the file and offset; the engine then holds what was read
  // before it and must not take events (the daemon exits).
  Result<storage::RecoveryReport> recover();
  bool journaled() const noexcept { return options_.worker.journal.enabled; }

  // Takes a snapshot now (any thread; concurrent calls run one after the
  // other). `while_waiting` as in run_on.
  SnapshotReport snapshot(const std::function<void()>& while_waiting = {});
  // Records all workers have journaled since start (any thread).
  std::uint64_t journal_records() const noexcept;
  std::uint64_t snapshots_taken() const noexcept {
    return snapshots_taken_.load(std::memory_order_relaxed);
  }

  void start();
  // Stops the workers after they have drained every queue; joins them.
  void stop();

  std::uint32_t workers() const noexcept { return groups_.workers(); }
  const RuleSet& rules() const noexcept { return *rules_.load(std::memory_order_acquire); }
  // Re-reads options.rules_path; on success the new set is live for every
  // batch decoded from now on. A refused file leaves the running set, and the
  // Status says why, with the place in the file (rules.h).
  Result<std::shared_ptr<const RuleSet>> reload();
  std::uint64_t reloads_ok() const noexcept { return reloads_ok_.load(std::memory_order_relaxed); }
  std::uint64_t reloads_refused() const noexcept {
    return reloads_refused_.load(std::memory_order_relaxed);
  }
  // "Now" under the current rules' clock.
  std::int64_t now_ms() const noexcept;

  // Runs `command` on `worker` and waits for it. While waiting, calls
  // `while_waiting` (the control thread drains alerts there).
  void run_on(QueueRow from, std::uint32_t worker, ShardCommand& command,
              const std::function<void()>& while_waiting = {});
  // Runs commands[w] on worker w, all at once, and waits for all.
  void run_on_all(QueueRow from, const std::vector<ShardCommand*>& commands,
                  const std::function<void()>& while_waiting = {});

  std::vector<ShardStats> stats(QueueRow from, const std::function<void()>& while_waiting = {});

  // Control thread only: hands every pending alert to `sink`.
  void drain_alerts(const std::function<void(const Alert&)>& sink);

  // Applies an event directly on the calling thread, bypassing the queues
  // (tests and benchmarks, with the engine not started).
  ApplyOutcome apply_directly(const Event& event);

 private:
  void send(QueueRow from, std::uint32_t worker, ShardCommand& command);
  static void wait_for(const ShardCommand& command, const std::function<void()>& while_waiting);

  ScorerOptions options_;
  KeyGroupMap groups_;
  QueueMatrix queues_;
  const Rule* recovered_rule(const storage::journal::Record& record);
  const Rule& recovered_revoke();

  std::vector<std::shared_ptr<const RuleSet>> rule_history_;  // never shrinks
  std::uint32_t next_rules_version_ = 2;
  // Terms of recovered contributions whose rule is not in the current set
  // (tables point at them like at any rule; they live as long as the engine).
  std::deque<Rule> recovered_rules_;
  absl::flat_hash_map<std::string, const Rule*> recovered_rule_index_;
  const Rule* recovered_revoke_ = nullptr;
  std::mutex snapshot_mutex_;
  std::uint64_t next_generation_ = 1;
  std::atomic<std::uint64_t> snapshots_taken_{0};
  std::atomic<const RuleSet*> rules_;
  std::atomic<const EventTypeResolver*> types_;
  std::atomic<std::int64_t> event_clock_{0};
  InternTable interns_;  // before workers_: their tables use it until they go
  std::vector<std::unique_ptr<TicketQueue>> done_tickets_;
  std::vector<std::unique_ptr<ShardWorker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reloads_refused_{0};
  std::mutex metrics_mutex_;  // serialises concurrent scrapes on the kMetrics row
};

}  // namespace tally::scorer
