// The snapshot scheduler, on counters of its own: a snapshot after the
// interval or the record count, none while idle, a snapshot taken by someone
// else restarts the count, and stop() never waits out the interval.
#include "daemon/snapshot_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace tally::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Counters standing in for the engine's; records "journaled" by the test.
// Every look of the scheduler at the counters is counted, so a test can wait
// for the scheduler to have looked, instead of sleeping and hoping it did.
class FakeEngine {
 public:
  SnapshotHooks hooks() {
    return {[this] { return records_.load(); },
            [this] {
              std::lock_guard<std::mutex> lock(mutex_);
              ++looks_;
              changed_.notify_all();
              return taken_.load();
            },
            [this] {
              std::lock_guard<std::mutex> lock(mutex_);
              taken_.fetch_add(1);
              ++taken_by_scheduler_;
              changed_.notify_all();
            }};
  }
  void journal(std::uint64_t records) { records_.fetch_add(records); }
  // A snapshot asked for from elsewhere (`tally snapshot`).
  void snapshot_elsewhere() { taken_.fetch_add(1); }

  // Waits until the scheduler has taken `count` snapshots; whether it did in time.
  bool wait_for_scheduled(int count, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return taken_by_scheduler_ >= count; });
  }
  // Waits until the scheduler has read its starting counters (its first look).
  void wait_for_start() {
    std::unique_lock<std::mutex> lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, 30s, [&] { return looks_ >= 1; }))
        << "the scheduler never started";
  }
  // Waits until the scheduler has looked at the counters `count` more times
  // from now: everything done before the call has then been seen.
  void wait_for_looks(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int target = looks_ + count;
    ASSERT_TRUE(changed_.wait_for(lock, 30s, [&] { return looks_ >= target; }))
        << "the scheduler stopped looking";
  }
  int scheduled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return taken_by_scheduler_;
  }

 private:
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> taken_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  int looks_ = 0;               // guarded by mutex_
  int taken_by_scheduler_ = 0;  // guarded by mutex_
};

SnapshotSchedule schedule(std::chrono::milliseconds interval, std::uint64_t every,
                          std::chrono::milliseconds look_every) {
  SnapshotSchedule result;
  result.interval = interval;
  result.every_records = every;
  result.look_every = look_every;
  return result;
}

TEST(SnapshotSchedulerTest, SnapshotsOnceTheIntervalPassedWithRecords) {
  FakeEngine engine;
  const auto start = Clock::now();
  SnapshotScheduler scheduler(schedule(200ms, 1'000'000, 1h), engine.hooks());
  engine.wait_for_start();  // the counters at start, the baseline
  engine.journal(1);
  ASSERT_TRUE(engine.wait_for_scheduled(1, 30s));
  EXPECT_GE(Clock::now() - start, 200ms) << "before the interval";
}

TEST(SnapshotSchedulerTest, SnapshotsOnceEnoughRecordsWereJournaled) {
  FakeEngine engine;
  SnapshotScheduler scheduler(schedule(1h, 100, 5ms), engine.hooks());
  engine.wait_for_start();
  engine.journal(99);
  engine.journal(1);
  EXPECT_TRUE(engine.wait_for_scheduled(1, 30s));
}

TEST(SnapshotSchedulerTest, AnIdleDaemonWritesNoSnapshot) {
  FakeEngine engine;
  SnapshotScheduler scheduler(schedule(1ms, 1, 1ms), engine.hooks());
  engine.wait_for_looks(20);  // many intervals and looks
  scheduler.stop();
  EXPECT_EQ(engine.scheduled(), 0);
}

TEST(SnapshotSchedulerTest, ASnapshotTakenElsewhereRestartsTheCount) {
  FakeEngine engine;
  SnapshotScheduler scheduler(schedule(1h, 100, 5ms), engine.hooks());
  engine.wait_for_start();
  engine.journal(60);
  engine.snapshot_elsewhere();
  engine.wait_for_looks(2);
  // 60 before it and 60 after it: 120 in all, but only 60 since the last one.
  engine.journal(60);
  engine.wait_for_looks(2);
  EXPECT_EQ(engine.scheduled(), 0);
  engine.journal(40);
  EXPECT_TRUE(engine.wait_for_scheduled(1, 30s));
}

TEST(SnapshotSchedulerTest, StopDoesNotWaitOutTheIntervalOrALook) {
  FakeEngine engine;
  SnapshotScheduler scheduler(schedule(1h, 1'000'000, 1h), engine.hooks());
  engine.wait_for_start();
  engine.journal(1);
  const auto start = Clock::now();
  scheduler.stop();
  EXPECT_LT(Clock::now() - start, 10s);  // an hour, were it not woken
  EXPECT_EQ(engine.scheduled(), 0);
  scheduler.stop();  // idempotent
}

}  // namespace
}  // namespace tally::daemon
