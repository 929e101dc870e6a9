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
// Live worker-count change (rescale): rescale(N) starts, on its own thread,
// the move of key groups to N workers (engine_rescale.cc; the protocol is
// core/route_wave.h). New workers start first, then groups move in waves,
// then surplus workers (holding nothing) stop. Two locks keep readers
// consistent: `topology_` (exclusive only while a worker is added or
// removed) keeps the worker set still under anyone sending commands, and
// `moving_` (exclusive while a wave is in flight) keeps every group in
// exactly one table under a command that reads all workers (top, stats, a
// snapshot). A subject's command is re-sent if it reaches a worker that
// does not hold its group (run_on_subject). Snapshots and rescales
// exclude each other.
//
// Thread-safety: start/stop/reload from the control thread; run_on with the
// caller's own QueueRow; alerts drained by the control thread only; the
// rescale calls from any one thread at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
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
  kIngest = 0,      // the ingest thread: events
  kControl = 1,     // the query/control thread: queries
  kMetrics = 2,     // the metrics scrape: stats requests
  kSnapshot = 3,    // whoever takes a snapshot (serialised by the engine)
  kBackground = 4,  // the one background operation at a time: a worker-count
                    // change (opening journals) or an impact (its slices)
};
inline constexpr std::uint32_t kQueueRows = 5;
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

// Where a worker-count change stands (Engine::rescale_progress).
struct RescaleProgress {
  enum class State : std::uint8_t { kNone, kRunning, kDone, kFailed };
  State state = State::kNone;  // kNone: no change since start
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::uint32_t groups_total = 0;  // groups that move
  std::uint32_t groups_moved = 0;
  std::uint64_t subjects_moved = 0;
  double seconds = 0;  // so far, or in all once ended
  // The longest any one group's events were held back (from the switch of
  // its owner to its state installed at the new owner).
  double longest_pause_seconds = 0;
  std::string error;  // kFailed: why
};

// What every change so far came to, for /metrics.
struct RescaleTotals {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t busy = 0;  // refused: another change was running
  std::uint64_t group_moves = 0;
  std::vector<double> seconds;  // each finished change's duration
};

struct ScorerOptions {
  // Shard workers at start (1..4096; rescale() changes it live). Default:
  // the number of cores.
  std::uint32_t workers = std::max(1u, std::thread::hardware_concurrency());
  // Key groups moved per wave of a live change. A wave holds back only its
  // own groups' events, for about the time the giving workers take to walk
  // their tables once; smaller waves mean shorter pauses and more walks.
  // Default 256 (16 waves from 2 workers to 4).
  std::uint32_t groups_per_wave = 256;
  // The rules file, re-read by reload().
  std::string rules_path;
  // Subjects expected over all workers (--expected-subjects): each worker's
  // table is sized for its share at the start, so that no index re-hash
  // stalls a worker under load (SubjectTableOptions::expected_subjects). A
  // worker added later by a live change is sized for the same share. 0 (the
  // default): tables grow as subjects come.
  std::size_t expected_subjects = 0;
  WorkerOptions worker;
  // Whether alerts go to an alert log (the daemon's, storage/alert_log.h)
  // that is completed from the journals after a crash. Then a snapshot, before
  // it deletes the journals it replaces, waits until every alert queued so
  // far is in the log (note_alerts_logged), or their records would go with
  // the journals. Default off.
  bool alert_log = false;
};

class Engine {
 public:
  Engine(ScorerOptions options, std::shared_ptr<const RuleSet> rules);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Wiring for the ingest side (the producer also applies route waves to
  // the key group map: core/route_wave.h).
  QueueMatrix& queues() noexcept { return queues_; }
  KeyGroupMap& groups() noexcept { return groups_; }
  const KeyGroupMap& groups() const noexcept { return groups_; }
  const std::atomic<const EventTypeResolver*>& types() const noexcept { return types_; }
  std::atomic<std::int64_t>& event_clock() noexcept { return event_clock_; }
  std::vector<TicketQueue*> done_ticket_queues();
  // Events the workers refused (a subject past --max-events-per-subject), for
  // the ingest thread to record and answer; lives as long as the engine.
  RefusalBox& refusals() noexcept { return refusals_; }
  // The rules and sources every worker's table shares; the daemon interns a
  // revoke's authenticated sender here too (Event::actor_ref). Any thread.
  InternTable& interns() noexcept { return interns_; }

  // Replays a data directory's snapshot and journals into the workers (which
  // must be started, with ingest not yet running), then starts the journals
  // in a generation above every file seen. Records are routed by subject, so
  // the worker count may differ from the one that wrote them. Rule versions
  // continue above the largest one recovered. Without a journal: nothing to
  // do, an empty report. A failure (damaged state, a journal that cannot be
  // started) names the file and offset; the engine then holds what was read
  // before it and must not take events (the daemon exits).
  // Alert records met in the journals go to `journaled_alert`, in journal
  // order, instead of to the workers.
  Result<storage::RecoveryReport> recover(
      const std::function<void(const storage::journal::Record&)>& journaled_alert = {});
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
  // Stops a running rescale (stop_rescale), then the workers after they
  // have drained every queue; joins them.
  void stop();

  std::uint32_t workers() const noexcept { return active_.load(std::memory_order_acquire); }

  // Starts changing the worker count to `workers` on a thread of its own.
  // Refused: kOutOfRange outside 1..4096, kBusy while a change runs,
  // kUnavailable before start(). A producer (the ingest thread) must apply
  // route waves (core/route_wave.h) until the change ends.
  Status rescale(std::uint32_t workers);
  RescaleProgress rescale_progress() const;
  RescaleTotals rescale_totals() const;
  bool rescaling() const noexcept { return rescaling_.load(std::memory_order_acquire); }
  // Ends a running change at the next safe point (a wave in flight
  // completes; one not yet taken by the producer is withdrawn) and waits
  // for it: the daemon's shutdown calls this before stopping ingest. The
  // change ends kFailed with the groups moved so far staying moved.
  void stop_rescale();
  // An impact (scorer/rules_impact.h) reads every worker in slices: it and a
  // worker-count change exclude each other, and one runs at a time. kBusy,
  // saying which runs, otherwise ok; end_impact() when it ends.
  Status try_begin_impact();
  void end_impact() noexcept;
  bool impact_running() const noexcept { return impact_running_.load(std::memory_order_acquire); }
  // Per worker, the busy time so far (ns), and the queue depths: the
  // autoscaler's and `workers`' utilisation figures come from differences.
  // Empty while a worker is being added or removed (it never waits).
  struct Load {
    std::vector<std::int64_t> busy_ns;
    std::vector<std::size_t> queue_depth;
    std::vector<std::uint32_t> key_groups;
  };
  Load load() const;
  // Called about once a second (the daemon's control loop): each running
  // worker's busy share since the previous call.
  void sample_utilisation();
  // Per running worker, from the last two samples (0 for a worker without
  // two yet); empty before any sample.
  std::vector<double> utilisation() const;
  const RuleSet& rules() const noexcept { return *rules_.load(std::memory_order_acquire); }
  // Re-reads options.rules_path; on success the new set is live for every
  // batch decoded from now on. A refused file leaves the running set, and the
  // Status says why, with the place in the file (rules.h).
  Result<std::shared_ptr<const RuleSet>> reload();
  // As reload(), from rules given as text (`name` in errors and in the set's
  // source()): in a cluster, rules come through the log, and the JetStream
  // source installs them from its own thread (the control thread then
  // refuses reloads, so the two never run at once).
  Result<std::shared_ptr<const RuleSet>> install_rules(std::string_view toml_text,
                                                       std::string_view name);
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
  // Runs `command` on the worker holding the subject's key group: sent to
  // the group's owner, and again (to the owner then) while it comes back
  // misrouted, which only a live change in progress can cause.
  void run_on_subject(QueueRow from, std::uint64_t subject_hash, SubjectCommand& command,
                      const std::function<void()>& while_waiting = {});
  // Runs command_for(w) on every worker w, all at once, with no key group
  // in flight, and waits for all. Returns how many workers ran one.
  std::uint32_t run_on_all(QueueRow from,
                           const std::function<ShardCommand*(std::uint32_t worker)>& command_for,
                           const std::function<void()>& while_waiting = {});

  // Every running worker's stats; then, if any worker was removed by a
  // live change, one more entry (worker = kRetiredWorkers) with what the
  // removed workers counted, so totals never go down.
  std::vector<ShardStats> stats(QueueRow from, const std::function<void()>& while_waiting = {});
  static constexpr std::uint32_t kRetiredWorkers = 0xffffffff;

  // Control thread only: hands every pending alert to `sink`.
  void drain_alerts(const std::function<void(const Alert&)>& sink);
  // Control thread: `count` drained alerts are now durable in the alert log.
  void note_alerts_logged(std::uint64_t count) noexcept {
    alerts_logged_.fetch_add(count, std::memory_order_release);
  }

  // Applies an event directly on the calling thread, bypassing the queues
  // (tests and benchmarks, with the engine not started).
  ApplyOutcome apply_directly(const Event& event);

 private:
  void send(QueueRow from, std::uint32_t worker, ShardCommand& command);
  static void wait_for(const ShardCommand& command, const std::function<void()>& while_waiting);
  // Shared locks taken by a thread that must keep draining alerts while it
  // waits (a worker blocked on a full alert queue would otherwise never let
  // the rescaler finish).
  static std::shared_lock<std::shared_mutex> lock_shared(
      std::shared_mutex& mutex, const std::function<void()>& while_waiting);
  // A snapshot's wait for the alert log (ScorerOptions::alert_log); gives up
  // after kAlertLogWait (a log that cannot be written) so a stop never hangs.
  static constexpr std::chrono::seconds kAlertLogWait{30};
  Status wait_for_alert_log(const std::function<void()>& while_waiting);
  std::bitset<kKeyGroups> groups_of(std::uint32_t worker) const;
  void add_worker(std::uint32_t id, std::bitset<kKeyGroups> held);  // under topology_, exclusive
  Status open_journal(std::uint32_t worker, std::uint64_t generation);
  // engine_rescale.cc
  void run_rescale(std::uint32_t target);
  Status move_groups(std::uint32_t slots, std::uint32_t target);
  void retire_worker(std::uint32_t id);
  void update_progress(const std::function<void(RescaleProgress&)>& change);

  ScorerOptions options_;
  KeyGroupMap groups_;
  QueueMatrix queues_;
  const Rule* recovered_rule(const storage::journal::Record& record);
  const Rule& recovered_revoke();

  std::vector<std::shared_ptr<const RuleSet>> rule_history_;  // never shrinks
  std::uint32_t next_rules_version_ = 2;
  // Makes a loaded set live for every batch decoded from now on.
  Result<std::shared_ptr<const RuleSet>> put_in_force(
      Result<std::shared_ptr<const RuleSet>> loaded);
  // Terms of recovered contributions whose rule is not in the current set
  // (tables point at them like at any rule; they live as long as the engine).
  std::deque<Rule> recovered_rules_;
  absl::flat_hash_map<std::string, const Rule*> recovered_rule_index_;
  const Rule* recovered_revoke_ = nullptr;
  std::mutex snapshot_mutex_;  // a snapshot, or a whole rescale
  std::atomic<std::uint64_t> next_generation_{1};
  std::atomic<std::uint64_t> snapshots_taken_{0};
  std::atomic<const RuleSet*> rules_;
  std::atomic<const EventTypeResolver*> types_;
  std::atomic<std::int64_t> event_clock_{0};
  InternTable interns_;  // before workers_: their tables use it until they go
  RefusalBox refusals_;  // before workers_: they post to it
  // Slots 0..kMaxQueueWorkers-1, made on first use and never moved; workers
  // [0, active_) run. A removed worker's object moves to retired_ (its
  // alert queue is still drained; its counts stay in the totals).
  std::vector<std::unique_ptr<TicketQueue>> done_tickets_;
  std::vector<std::unique_ptr<ShardWorker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint32_t> active_{0};
  std::vector<std::unique_ptr<ShardWorker>> retired_;
  ShardStats retired_stats_;  // under topology_
  bool retired_any_ = false;
  mutable std::shared_mutex topology_;
  std::shared_mutex moving_;
  std::mutex alert_sources_mutex_;
  std::vector<ShardWorker*> alert_sources_;
  std::atomic<std::uint64_t> alerts_logged_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reloads_refused_{0};
  std::mutex metrics_mutex_;  // serialises concurrent scrapes on the kMetrics row
  // The change in progress.
  mutable std::mutex rescale_mutex_;  // progress_, totals_, rescaler_
  RescaleProgress progress_;
  std::chrono::steady_clock::time_point rescale_started_;
  RescaleTotals totals_;
  std::thread rescaler_;
  mutable std::mutex utilisation_mutex_;
  std::vector<std::int64_t> sampled_busy_ns_;
  std::chrono::steady_clock::time_point sampled_at_;
  std::vector<double> utilisation_;
  std::atomic<bool> rescaling_{false};
  std::atomic<bool> rescale_abort_{false};
  std::atomic<bool> impact_running_{false};  // changed under rescale_mutex_
};

}  // namespace tally::scorer
