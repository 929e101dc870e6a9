#include "daemon/snapshot_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace tally::daemon {

SnapshotScheduler::SnapshotScheduler(SnapshotSchedule schedule, SnapshotHooks hooks)
    : schedule_(schedule), hooks_(std::move(hooks)) {
  thread_ = std::thread([this] { run(); });
}

SnapshotScheduler::~SnapshotScheduler() { stop(); }

void SnapshotScheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotScheduler::run() {
  using Clock = std::chrono::steady_clock;
  // The last snapshot: when, and the counters then.
  Clock::time_point last = Clock::now();
  std::uint64_t records_at_last = hooks_.journal_records();
  std::uint64_t taken_at_last = hooks_.snapshots_taken();
  const auto restart_from_now = [&] {
    last = Clock::now();
    records_at_last = hooks_.journal_records();
    taken_at_last = hooks_.snapshots_taken();
  };

  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point due = last + schedule_.interval;
    // Once the interval is due but nothing was journaled, only the looks remain.
    const Clock::time_point wake_at =
        due > now ? std::min(due, now + schedule_.look_every) : now + schedule_.look_every;
    if (wake_.wait_until(lock, wake_at, [this] { return stopping_; })) break;
    lock.unlock();
    if (hooks_.snapshots_taken() != taken_at_last) {  // one was asked for
      restart_from_now();
    } else {
      const std::uint64_t records = hooks_.journal_records() - records_at_last;
      if (records > 0 && (Clock::now() >= due || records >= schedule_.every_records)) {
        hooks_.take();
        restart_from_now();
      }
    }
    lock.lock();
  }
}

void snapshot_and_log(scorer::Engine& engine, const char* why) {
  const scorer::SnapshotReport report = engine.snapshot();
  if (report.ok) {
    spdlog::info(
        "snapshot {} ({}): {} records, {:.1f} MB in {:.2f} s; longest worker pause "
        "{:.3f} s",
        report.generation, why, report.records, static_cast<double>(report.bytes) / 1e6,
        report.seconds, report.longest_pause_seconds);
  } else {
    spdlog::error("snapshot {} ({}) failed: {}; the journals still hold everything",
                  report.generation, why, report.error);
  }
}

SnapshotHooks snapshot_hooks(scorer::Engine& engine) {
  return {[&engine] { return engine.journal_records(); },
          [&engine] { return engine.snapshots_taken(); },
          [&engine] { snapshot_and_log(engine, "periodic"); }};
}

}  // namespace tally::daemon
