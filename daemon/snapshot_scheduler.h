// Periodic snapshots, on a thread of their own, so that queries go on while
// the workers write (each worker pauses only for its own part).
//
// A snapshot is taken when records were journaled since the last one and
// either `interval` has passed since it or `every_records` were journaled
// since it. A snapshot someone else took (`tally snapshot`) counts as the
// last one. No records, no snapshot: an idle daemon writes nothing.
//
// The thread sleeps on a condition variable until the interval is due or the
// next look at the record count, whichever comes first; stop() wakes it at
// once. The record count is looked at every `look_every` (default 1 s)
// because the engine does not signal journal growth: a count crossing
// `every_records` starts a snapshot at most that late (workers journal about
// a million records a second, so the default 5 million take five looks).
//
// Thread-safety: constructed, stopped and destroyed by one thread (the
// control thread); the hooks are called on the scheduler's thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "scorer/engine.h"

namespace tally::daemon {

struct SnapshotSchedule {
  // Snapshot at least this often while records arrive. Default 10 minutes.
  std::chrono::milliseconds interval{10 * 60 * 1000};
  // Snapshot after this many journaled records. Default 5 million.
  std::uint64_t every_records = 5'000'000;
  // How often the record count is looked at. Default 1 s.
  std::chrono::milliseconds look_every{1000};
};

// What the scheduler reads and does; the engine's in tallyd (snapshot_hooks
// below), counters of its own in a test.
struct SnapshotHooks {
  std::function<std::uint64_t()> journal_records;  // records journaled since start
  std::function<std::uint64_t()> snapshots_taken;  // snapshots completed since start
  std::function<void()> take;                      // takes one; returns when done
};

class SnapshotScheduler {
 public:
  // Starts the scheduler's thread.
  SnapshotScheduler(SnapshotSchedule schedule, SnapshotHooks hooks);
  ~SnapshotScheduler();
  SnapshotScheduler(const SnapshotScheduler&) = delete;
  SnapshotScheduler& operator=(const SnapshotScheduler&) = delete;

  // Wakes the thread and joins it; a snapshot it is writing is finished
  // first. Idempotent.
  void stop();

 private:
  void run();

  const SnapshotSchedule schedule_;
  const SnapshotHooks hooks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

// Takes a snapshot of `engine` now and logs its outcome; `why` says what
// asked for it ("periodic", "at stop").
void snapshot_and_log(scorer::Engine& engine, const char* why);

// The engine's counters, and a logged periodic snapshot.
SnapshotHooks snapshot_hooks(scorer::Engine& engine);

}  // namespace tally::daemon
