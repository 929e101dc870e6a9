// A shard worker: one thread that alone owns a SubjectTable and applies the
// events routed to it, in the order each producer queued them.
//
// Everything else reaches the shard by message: queries and stats requests
// arrive as ShardCommands in the same queues as events, run on the worker's
// thread, and signal completion; tier changes leave as Alerts through a
// single-producer queue. So the scoring path takes no lock and touches no
// shared atomic per event (the event clock is read once per drained chunk).
//
// Key groups: a worker applies events of the key groups it holds. During a
// live worker-count change (core/route_wave.h) events of a group on its way
// here are held back, in order, and applied once the group's state has
// arrived; a batch with such events is answered only after them.
//
// Thread-safety: run() on the worker's own thread; the rest is set up
// before, except retire(), receive() and the atomics' readers (any thread).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <bitset>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/key_groups.h"
#include "core/refusals.h"
#include "core/route_wave.h"
#include "core/work_queue.h"
#include "scorer/group_transfer.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"
#include "scorer/shard_persistence.h"
#include "scorer/shard_stats.h"
#include "scorer/subject_table.h"
#include "scorer/tier_changes.h"
#include "storage/env.h"
#include "storage/journal_writer.h"

namespace tally::scorer {

class ShardWorker;

// A request run on a worker's thread. The sender keeps it alive until done().
class ShardCommand : public WorkerCommand {
 public:
  virtual void run(ShardWorker& worker) = 0;
  void mark_done() noexcept { done_.store(true, std::memory_order_release); }
  bool done() const noexcept { return done_.load(std::memory_order_acquire); }
  // Before sending the same command again.
  void rearm() noexcept { done_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> done_{false};
};

// A subject crossed from one tier to another.
struct Alert {
  FixedString<kMaxSubjectBytes> subject;
  FixedString<kMaxIdBytes> event_id;  // the event that caused it
  std::string_view from;              // tier names live in a RuleSet, kept for the process's life
  std::string_view to;
  std::int64_t score = 0;
  std::int64_t time_ms = 0;  // when: "now" at the event, or the expiry instant
  bool by_expiry = false;    // caused by event_id expiring, not by an event arriving
  // Its journal record's name (all zero without a journal): the alert log
  // (storage/alert_log.h) keeps it, so recovery knows which journaled
  // alerts the log already has.
  storage::journal::AlertOrigin origin;
};

using AlertQueue = boost::lockfree::spsc_queue<Alert, boost::lockfree::capacity<16384>>;

// A command about one subject (score, explain, history). It runs only on
// the worker that holds the subject's key group; any other worker (the
// group moved, or is still moving, during a live worker-count change)
// leaves it `misrouted`, and Engine::run_on_subject sends it again to the
// group's owner.
class SubjectCommand : public ShardCommand {
 public:
  explicit SubjectCommand(std::uint64_t subject_hash) : group_(key_group_of(subject_hash)) {}
  void run(ShardWorker& worker) final;
  bool misrouted() const noexcept { return misrouted_; }

 protected:
  virtual void run_held(ShardWorker& worker) = 0;

 private:
  std::uint32_t group_;
  bool misrouted_ = false;
};

// Shared, engine-owned state that workers read. All three must outlive the
// worker.
struct ShardContext {
  const std::atomic<const RuleSet*>* rules = nullptr;
  const std::atomic<std::int64_t>* event_clock = nullptr;  // largest event time seen
  // The rules and sources every worker's table interns (intern_table.h: safe
  // to share between workers).
  InternTable* interns = nullptr;
  // Where a refused event goes back to the ingest thread (core/refusals.h).
  RefusalBox* refusals = nullptr;
};

struct WorkerOptions {
  // How often the worker drops what is past retention (ScoreConfig::retain).
  // Purging walks the whole shard, so it is spaced out; between purges memory
  // grows by at most what arrives in the interval. Default 5 minutes.
  std::int64_t purge_interval_ms = 5 * 60 * 1000;
  // How often the worker looks for tier changes caused by time passing (a
  // contribution expiring, no event arriving) and alerts them. The bound on
  // an expiry alert's delay; 0 turns the sweep off. Default 10 s.
  std::int64_t expiry_sweep_interval_ms = 10'000;
  // A sweep walks the whole shard (about 0.9 s per million subjects): it
  // visits this many subjects per pass over the queues, so that no event
  // waits behind it for more than a slice (about 0.2 ms). Default 256.
  std::size_t sweep_slice_subjects = 256;
  // What one subject's state may hold (--max-events-per-subject); an event
  // past it is refused with the reason `subject_full`.
  SubjectTable::Options table;
  // The journal (journal.enabled false: none). Each worker writes its own files.
  storage::JournalOptions journal;
  // The file system the journal, snapshot parts and recovery go through; a
  // test puts a storage::FaultInjectionEnv here. Must outlive the engine.
  storage::Env* env = storage::Env::posix();
};

// What one worker's part of a snapshot came to.
struct SnapshotPartOutcome {
  Status status;  // ok, or the step that failed, naming the file
  storage::SnapshotPartResult part;
  double seconds = 0;  // how long the worker was busy with it (ingest paused)
};

class ShardWorker {
 public:
  // `held`: the key groups whose state this worker starts with.
  ShardWorker(std::uint32_t id, WorkerOptions options, ShardContext context, QueueMatrix& queues,
              TicketQueue& done_tickets, const std::bitset<kKeyGroups>& held);

  // Starts the journal in `generation` (no-op without a journal); on this
  // worker's thread (a command) once run() has begun. The failure names the
  // file.
  Status open_journal(std::uint64_t generation);

  // Applies work until `stop` (or retire()) is set and every input queue is
  // empty; then writes and syncs the journal.
  void run(const std::atomic<bool>& stop);
  // Makes run() return once it has nothing left to do (queues empty, no
  // batch waiting on the journal): a worker removed by a live change, which
  // holds no key group any more. Any thread.
  void retire() noexcept { retire_.store(true, std::memory_order_release); }

  // Key groups. A worker holds the groups whose state it has: those given
  // at construction, then what transfers bring and take away.
  bool holds(std::uint32_t group) const noexcept { return held_.test(group); }
  std::uint32_t groups_held() const noexcept {
    return held_groups_.load(std::memory_order_relaxed);
  }
  // On this worker's thread (a handover command): removes the state of
  // every group in `moves` (all of which it holds) from its table, one
  // transfer per receiving worker.
  std::vector<std::unique_ptr<GroupTransfer>> hand_over(const std::vector<GroupMove>& moves);
  // Any thread (the giver's): queues `transfer` for this worker to install.
  void receive(GroupTransfer* transfer);
  // Nanoseconds spent applying and running commands; any thread.
  std::int64_t busy_ns() const noexcept {
    return busy_published_ns_.load(std::memory_order_relaxed);
  }

  std::uint32_t id() const noexcept { return id_; }
  AlertQueue& alerts() noexcept { return alerts_; }
  // Alerts put on the queue so far; any thread. With a journal an alert is
  // queued only once its record has been written (see commit()).
  std::uint64_t alerts_queued() const noexcept {
    return alerts_queued_.load(std::memory_order_acquire);
  }

  // For commands (they run on this worker's thread):
  const SubjectTable& table() const noexcept { return table_; }
  const RuleSet& rules() const noexcept { return *context_.rules->load(std::memory_order_acquire); }
  // "Now" under the rules' clock, in epoch milliseconds.
  std::int64_t now_ms() const noexcept;
  ShardStats stats() const;

  // Applies one event directly (tests and benchmarks; not thread-safe).
  ApplyOutcome apply(const Event& event, std::int64_t now_ms);

  // On this worker's thread (a command): settles the journal, moves it to
  // `generation`, and writes this shard's snapshot part.
  SnapshotPartOutcome take_snapshot(std::uint64_t generation);
  bool journaled() const noexcept { return journal_ != nullptr; }
  // Records journaled so far; readable from any thread (updated per commit).
  std::uint64_t journaled_records() const noexcept {
    return journaled_records_.load(std::memory_order_relaxed);
  }

 private:
  std::size_t drain(WorkQueue& queue);
  void handle(const WorkItem& item);
  // Applies an event (journal, latency); counts it for its ticket into the
  // running counts or, for one held back, straight into the ticket.
  ApplyOutcome apply_item(const WorkItem& item);
  // Hands an event its subject had no room for back to the ingest thread.
  void refuse(const WorkItem& item);
  void hold_back(const WorkItem& item);
  void install_arrivals();
  void apply_held_back();
  // A batch's end once all its events here are applied: answered after the
  // journal commit (or at once without a journal).
  void end_batch(BatchTicket* ticket);
  void maybe_purge(std::int64_t now_ms);
  // Group commit: writes (and syncs, per mode) what the pass journaled, then
  // answers the batches that waited on it.
  void commit(std::int64_t wall_ms);
  void release(BatchTicket* ticket);
  void maybe_sweep_expiries(std::int64_t wall_ms);
  // Visits up to `max_subjects` more subjects of the sweep under way.
  void sweep_step(std::size_t max_subjects);
  // Visits the rest of the sweep under way, if any: before the table's
  // subjects are moved in or out (a live worker-count change), which would
  // re-index it under the walk.
  void finish_sweep();
  // The most subjects one pass over the queues can add to the table.
  std::size_t max_inserts_per_pass() const noexcept;
  // Alerts the subject's tier changes caused by expiries in (after, until].
  void alert_expiries(const SubjectState& state, const RuleSet& rules, std::int64_t after_ms,
                      std::int64_t until_ms);
  void publish_alert(std::string_view subject, std::string_view cause_id, std::string_view from,
                     std::string_view to, std::int64_t score, std::int64_t time_ms,
                     bool by_expiry = false);
  // Puts the alerts whose journal records are written on the queue.
  void queue_staged_alerts();
  void queue_alert(const Alert& alert);

  std::uint32_t id_;
  std::atomic<bool> retire_{false};
  std::bitset<kKeyGroups> held_;
  std::atomic<std::uint32_t> held_groups_{0};
  // Transfers posted by givers, waiting for this thread.
  std::mutex inbox_mutex_;
  std::vector<GroupTransfer*> inbox_;
  std::atomic<bool> inbox_pending_{false};
  // Events of groups on their way here, in arrival order, and what waits on
  // them: how many each ticket has held back, and batch ends that must wait.
  std::vector<WorkItem> held_back_;
  absl::flat_hash_map<BatchTicket*, std::uint32_t> held_back_per_ticket_;
  std::vector<BatchTicket*> ends_waiting_;
  WorkerOptions options_;
  ShardContext context_;
  QueueMatrix& queues_;
  TicketQueue& done_tickets_;
  SubjectTable table_;
  AlertQueue alerts_;
  std::atomic<std::uint64_t> alerts_queued_{0};
  // Alerts journaled but not yet written: they reach the queue (and so the
  // alert log and the PUB socket) only once their records are in the file,
  // so that no subscriber hears of a change a crash could still undo.
  std::vector<Alert> staged_alerts_;
  std::unique_ptr<storage::JournalWriter> journal_;  // null: no journal
  // Batches whose events this worker applied, waiting for the journal to
  // settle past the position their records end at (increasing, in order).
  struct AwaitingBatch {
    BatchTicket* ticket;
    std::uint64_t journal_position;
  };
  std::vector<AwaitingBatch> awaiting_journal_;
  std::uint64_t journal_error_streak_ = 0;
  std::int64_t journal_error_logged_ms_ = 0;
  std::int64_t journal_retry_at_ms_ = 0;
  std::atomic<std::uint64_t> journaled_records_{0};
  static constexpr std::size_t kChunkItems = 64;
  std::vector<WorkItem> chunk_;  // items popped from a queue, handled in order

  // Per-chunk context, refreshed once per drained chunk, not per event.
  std::int64_t chunk_wall_ms_ = 0;
  std::int64_t chunk_steady_ns_ = 0;
  std::uint32_t since_clock_read_ = 0;

  // Counts for the acknowledged batch in progress, per producer is not needed:
  // only the ingest producer sends tickets, and its items arrive in order.
  std::uint64_t ticket_accepted_ = 0;
  std::uint64_t ticket_duplicates_ = 0;

  // Plain counters: only this thread writes them.
  std::uint64_t applied_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t revokes_ = 0;
  std::uint64_t purged_subjects_ = 0;
  std::uint64_t recovered_ = 0;  // records replayed at start
  std::int64_t busy_ns_ = 0;
  std::atomic<std::int64_t> busy_published_ns_{0};
  std::int64_t last_purge_ms_ = 0;
  std::int64_t last_sweep_wall_ms_ = 0;
  std::int64_t swept_until_ms_ = std::numeric_limits<std::int64_t>::min();  // rules' clock
  // The sweep under way (sweeping_): expiries in (swept_until_ms_,
  // sweep_to_ms_] are looked for, a slice a pass. The table was given room
  // for sweep_room_ more subjects when it began, so that inserts cannot
  // re-index it under the walk (which would visit subjects twice).
  bool sweeping_ = false;
  std::int64_t sweep_to_ms_ = 0;
  SubjectWalk sweep_walk_;
  std::size_t sweep_started_subjects_ = 0;
  std::size_t sweep_room_ = 0;
  std::uint64_t expiry_alerts_ = 0;
  TierChangeFinder tier_changes_finder_;
  absl::flat_hash_map<const Rule*, std::uint64_t> hits_;
  absl::flat_hash_map<std::string, std::uint64_t> tier_changes_;
  LatencyHistogram latency_;
};

}  // namespace tally::scorer
