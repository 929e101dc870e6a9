// A shard worker: one thread that alone owns a SubjectTable and applies the
// events routed to it, in the order each producer queued them.
//
// Everything else reaches the shard by message: queries and stats requests
// arrive as ShardCommands in the same queues as events, run on the worker's
// thread, and signal completion; tier changes leave as Alerts through a
// single-producer queue. So the scoring path takes no lock and touches no
// shared atomic per event (the event clock is read once per drained chunk).
//
// Thread-safety: run() on the worker's own thread; the rest is set up before.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/work_queue.h"
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
};

using AlertQueue = boost::lockfree::spsc_queue<Alert, boost::lockfree::capacity<16384>>;

// Shared, engine-owned state that workers read. All three must outlive the
// worker.
struct ShardContext {
  const std::atomic<const RuleSet*>* rules = nullptr;
  const std::atomic<std::int64_t>* event_clock = nullptr;  // largest event time seen
  // The rules and sources every worker's table interns (intern_table.h: safe
  // to share between workers).
  InternTable* interns = nullptr;
};

struct WorkerOptions {
  // How often the worker drops what is past retention (ScoreConfig::retain).
  // Purging walks the whole shard, so it is spaced out; between purges memory
  // grows by at most what arrives in the interval. Default 5 minutes.
  std::int64_t purge_interval_ms = 5 * 60 * 1000;
  // How often the worker looks for tier changes caused by time passing (a
  // contribution expiring, no event arriving) and alerts them. The bound on
  // an expiry alert's delay; 0 turns the sweep off. A sweep walks the shard
  // (about 0.1 s per million subjects). Default 10 s.
  std::int64_t expiry_sweep_interval_ms = 10'000;
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
  ShardWorker(std::uint32_t id, WorkerOptions options, ShardContext context, QueueMatrix& queues,
              TicketQueue& done_tickets);

  // Starts the journal in `generation` (no-op without a journal); on this
  // worker's thread (a command) once run() has begun. The failure names the
  // file.
  Status open_journal(std::uint64_t generation);

  // Applies work until `stop` is set and every input queue is empty; then
  // writes and syncs the journal.
  void run(const std::atomic<bool>& stop);

  std::uint32_t id() const noexcept { return id_; }
  AlertQueue& alerts() noexcept { return alerts_; }

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
  void maybe_purge(std::int64_t now_ms);
  // Group commit: writes (and syncs, per mode) what the pass journaled, then
  // answers the batches that waited on it.
  void commit(std::int64_t wall_ms);
  void release(BatchTicket* ticket);
  void maybe_sweep_expiries(std::int64_t wall_ms);
  void publish_alert(std::string_view subject, std::string_view cause_id, std::string_view from,
                     std::string_view to, std::int64_t score, std::int64_t time_ms,
                     bool by_expiry = false);

  std::uint32_t id_;
  WorkerOptions options_;
  ShardContext context_;
  QueueMatrix& queues_;
  TicketQueue& done_tickets_;
  SubjectTable table_;
  AlertQueue alerts_;
  std::unique_ptr<storage::JournalWriter> journal_;  // null: no journal
  // Batches whose events this worker applied, waiting for the journal.
  std::vector<BatchTicket*> awaiting_journal_;
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
  std::int64_t last_purge_ms_ = 0;
  std::int64_t last_sweep_wall_ms_ = 0;
  std::int64_t swept_until_ms_ = std::numeric_limits<std::int64_t>::min();  // rules' clock
  std::uint64_t expiry_alerts_ = 0;
  TierChangeFinder tier_changes_finder_;
  absl::flat_hash_map<const Rule*, std::uint64_t> hits_;
  absl::flat_hash_map<std::string, std::uint64_t> tier_changes_;
  LatencyHistogram latency_;
};

}  // namespace tally::scorer
