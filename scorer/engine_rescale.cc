// Engine: the live worker-count change (engine.h says what it guarantees;
// core/route_wave.h has the protocol a wave follows).
//
// Durability of moved groups: nothing is written for a move. A group's
// records stay in the journal of the worker that applied them, and
// recovery routes every record by its subject's key group whatever file it
// is in, and scores are a function of the set of events, not their order
// (subject_table.h); so a restart after any number of moves, or a kill -9
// in the middle of one (the state in flight is only in memory, its records
// are in the giver's journal), recovers every score. What a move must not
// meet is a snapshot: a group in flight is in neither table, so snapshots
// and changes exclude each other (snapshot_mutex_). New workers write
// journals in a fresh generation, so a slot used again never reuses a file
// name.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>

#include "core/backoff.h"
#include "scorer/engine.h"
#include "scorer/rescale_plan.h"

namespace tally::scorer {
namespace {

// Runs on a giving worker, queued by the producer after every event it sent
// that worker for the moving groups: hands their state to the receivers.
class HandoverCommand final : public ShardCommand {
 public:
  HandoverCommand(std::vector<GroupMove> moves, std::vector<ShardWorker*> receivers)
      : moves_(std::move(moves)), receivers_(std::move(receivers)) {}
  void run(ShardWorker& worker) override {
    transfers = worker.hand_over(moves_);
    for (auto& transfer : transfers) receivers_[transfer->to]->receive(transfer.get());
  }
  std::vector<std::unique_ptr<GroupTransfer>> transfers;

 private:
  std::vector<GroupMove> moves_;
  std::vector<ShardWorker*> receivers_;
};

}  // namespace

Status Engine::rescale(std::uint32_t target) {
  if (target == 0 || target > kMaxQueueWorkers) {
    return Status::out_of_range(
        fmt::format("{} workers: the count must be 1 to {} (a worker owns at least one of the {} "
                    "key groups)",
                    target, kMaxQueueWorkers, kKeyGroups));
  }
  if (!started_.load(std::memory_order_acquire)) {
    return Status::unavailable("the engine is not running");
  }
  const std::lock_guard lock(rescale_mutex_);
  if (impact_running_.load(std::memory_order_acquire)) {
    ++totals_.busy;
    return Status::busy(
        "an impact of a proposed rules file is running (`tally rules impact`); ask again when it "
        "ends");
  }
  if (rescaling_.load(std::memory_order_acquire)) {
    ++totals_.busy;
    return Status::busy(fmt::format(
        "a change from {} to {} workers is running ({} of {} key groups moved); ask again when it "
        "ends (`tally workers` shows its progress)",
        progress_.from, progress_.to, progress_.groups_moved, progress_.groups_total));
  }
  if (rescaler_.joinable()) rescaler_.join();  // the previous change, ended
  rescaling_.store(true, std::memory_order_release);
  rescale_abort_.store(false, std::memory_order_release);
  progress_ = RescaleProgress{};
  progress_.state = RescaleProgress::State::kRunning;
  progress_.from = workers();
  progress_.to = target;
  rescale_started_ = std::chrono::steady_clock::now();
  rescaler_ = std::thread([this, target] { run_rescale(target); });
  return Status::ok();
}

Status Engine::try_begin_impact() {
  const std::lock_guard lock(rescale_mutex_);
  if (impact_running_.load(std::memory_order_acquire)) {
    return Status::busy("another impact is running; ask again when it ends");
  }
  if (rescaling_.load(std::memory_order_acquire)) {
    return Status::busy(fmt::format(
        "a change from {} to {} workers is running; ask again when it ends (`tally workers` shows "
        "its progress)",
        progress_.from, progress_.to));
  }
  impact_running_.store(true, std::memory_order_release);
  return Status::ok();
}

void Engine::end_impact() noexcept { impact_running_.store(false, std::memory_order_release); }

RescaleProgress Engine::rescale_progress() const {
  const std::lock_guard lock(rescale_mutex_);
  RescaleProgress progress = progress_;
  if (progress.state == RescaleProgress::State::kRunning) {
    progress.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - rescale_started_).count();
  }
  return progress;
}

RescaleTotals Engine::rescale_totals() const {
  const std::lock_guard lock(rescale_mutex_);
  return totals_;
}

void Engine::stop_rescale() {
  rescale_abort_.store(true, std::memory_order_release);
  std::thread rescaler;
  {
    const std::lock_guard lock(rescale_mutex_);
    rescaler = std::move(rescaler_);
  }
  if (rescaler.joinable()) rescaler.join();
  rescale_abort_.store(false, std::memory_order_release);
}

void Engine::update_progress(const std::function<void(RescaleProgress&)>& change) {
  const std::lock_guard lock(rescale_mutex_);
  change(progress_);
}

void Engine::run_rescale(std::uint32_t target) {
  // A snapshot running now finishes first; none starts until this ends.
  std::unique_lock snapshot_lock(snapshot_mutex_);
  const std::uint32_t from = workers();
  spdlog::info("workers: changing from {} to {}", from, target);
  Status status;
  if (target > from) {
    {
      const std::unique_lock topology(topology_);
      for (std::uint32_t id = from; id < target; ++id) add_worker(id, {});
    }
    const std::uint64_t generation = next_generation_.fetch_add(1);
    for (std::uint32_t id = from; id < target && status.is_ok(); ++id) {
      status = open_journal(id, generation).with_context(fmt::format("worker {}", id));
    }
    if (!status.is_ok()) {
      // They hold nothing yet: take them away again.
      for (std::uint32_t id = target; id-- > from;) retire_worker(id);
    }
  }
  if (status.is_ok()) status = move_groups(std::max(from, target), target);
  if (status.is_ok()) {
    for (std::uint32_t id = from; id-- > target;) retire_worker(id);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - rescale_started_).count();
  {
    const std::lock_guard lock(rescale_mutex_);
    progress_.seconds = seconds;
    progress_.state =
        status.is_ok() ? RescaleProgress::State::kDone : RescaleProgress::State::kFailed;
    progress_.error = status.is_ok() ? std::string() : status.to_string();
    (status.is_ok() ? totals_.ok : totals_.failed) += 1;
    totals_.seconds.push_back(seconds);
    rescaling_.store(false, std::memory_order_release);
  }
  if (status.is_ok()) {
    spdlog::info("workers: {} -> {} done in {:.3f} s ({} key groups moved)", from, target, seconds,
                 progress_.groups_moved);
  } else {
    spdlog::error("workers: {} -> {} failed after {:.3f} s, now {} workers: {}", from, target,
                  seconds, workers(), status.to_string());
  }
}

Status Engine::move_groups(std::uint32_t slots, std::uint32_t target) {
  const std::vector<GroupMove> moves = plan_rescale(groups_.owners(), target);
  update_progress(
      [&](RescaleProgress& p) { p.groups_total = static_cast<std::uint32_t>(moves.size()); });
  std::vector<ShardWorker*> receivers(slots);
  std::vector<TicketQueue*> done_queues(slots);
  for (std::uint32_t id = 0; id < slots; ++id) {
    receivers[id] = workers_[id].get();
    done_queues[id] = done_tickets_[id].get();
  }
  const std::size_t per_wave = std::max<std::uint32_t>(1, options_.groups_per_wave);
  for (std::size_t offset = 0; offset < moves.size(); offset += per_wave) {
    if (rescale_abort_.load(std::memory_order_acquire)) {
      return Status::interrupted("stopped before its end (tallyd is stopping)");
    }
    RouteWave wave;
    wave.moves.assign(
        moves.begin() + static_cast<std::ptrdiff_t>(offset),
        moves.begin() + static_cast<std::ptrdiff_t>(std::min(moves.size(), offset + per_wave)));
    wave.worker_slots = slots;
    wave.done_queues = done_queues;
    std::map<std::uint32_t, std::vector<GroupMove>> by_giver;
    for (const GroupMove& move : wave.moves) by_giver[move.from].push_back(move);
    std::deque<HandoverCommand> handovers;  // not movable: they hold atomics
    for (auto& [giver, given] : by_giver) {
      wave.handovers.emplace_back(giver, &handovers.emplace_back(std::move(given), receivers));
    }

    // No command that reads every worker runs while groups are in flight.
    std::unique_lock still(moving_);
    groups_.post_wave(&wave);
    Backoff backoff;
    while (wave.applied_ns.load(std::memory_order_acquire) == 0) {
      if (rescale_abort_.load(std::memory_order_acquire) && groups_.take_wave() == &wave) {
        return Status::interrupted("stopped before its end (tallyd is stopping)");
      }
      backoff.pause();
    }
    std::uint64_t subjects = 0;
    std::int64_t longest_ns = 0;
    const std::int64_t applied_ns = wave.applied_ns.load(std::memory_order_acquire);
    for (HandoverCommand& handover : handovers) {
      backoff.reset();
      while (!handover.done()) backoff.pause();
      for (const auto& transfer : handover.transfers) {
        backoff.reset();
        while (!transfer->installed.load(std::memory_order_acquire)) backoff.pause();
        subjects += transfer->subjects;
        longest_ns = std::max(longest_ns, transfer->installed_ns - applied_ns);
      }
    }
    still.unlock();
    {
      const std::lock_guard lock(rescale_mutex_);
      progress_.groups_moved += static_cast<std::uint32_t>(wave.moves.size());
      progress_.subjects_moved += subjects;
      progress_.longest_pause_seconds =
          std::max(progress_.longest_pause_seconds, static_cast<double>(longest_ns) * 1e-9);
      totals_.group_moves += wave.moves.size();
    }
  }
  return Status::ok();
}

void Engine::retire_worker(std::uint32_t id) {
  // Exclusive: no command is on its way to it, and none will be (it is no
  // longer counted, and it owns no group). Joining waits for its queues to
  // empty and its batches to be answered, which needs nothing this lock
  // holds (the control thread drains alerts while it waits for the lock).
  const std::unique_lock topology(topology_);
  active_.store(id, std::memory_order_release);
  ShardWorker& worker = *workers_[id];
  worker.retire();
  threads_[id].join();
  accumulate(retired_stats_, worker.stats());
  retired_stats_.worker = kRetiredWorkers;
  retired_stats_.subjects = 0;
  retired_stats_.queue_depth = 0;
  retired_stats_.memory_bytes = 0;
  retired_any_ = true;
  retired_.push_back(std::move(workers_[id]));
}

}  // namespace tally::scorer
