// Signals taken by one waiting thread: flags set, counts kept, nothing
// interrupted. SIGUSR1 and SIGUSR2 stand in for SIGTERM and SIGHUP, so that a
// mistake cannot kill the test runner.
#include "core/signal_watcher.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace tally {
namespace {

// Waits for `condition`, at most 10 s; true if it came.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(SignalWatcherTest, StopAndReloadSignalsSetTheirFlags) {
  SignalWatcher signals({.stop = {SIGUSR1}, .reload = {SIGUSR2}});
  EXPECT_FALSE(signals.stop_requested());
  EXPECT_FALSE(signals.take_reload());

  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  ASSERT_TRUE(eventually([&] { return signals.take_reload(); }));
  EXPECT_FALSE(signals.take_reload()) << "taking the reload clears it";
  EXPECT_FALSE(signals.stop_requested());

  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(eventually([&] { return signals.stop_requested(); }));
  EXPECT_EQ(signals.last_stop_signal(), SIGUSR1);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_TRUE(eventually([&] { return signals.stop_count() == 2; }));
  EXPECT_TRUE(signals.stop_flag().load());
}

TEST(SignalWatcherTest, TheSignalsAreBlockedInThreadsStartedAfter) {
  SignalWatcher signals({.stop = {SIGUSR1}, .reload = {}});
  sigset_t mask;
  std::thread([&] { ::pthread_sigmask(SIG_BLOCK, nullptr, &mask); }).join();
  EXPECT_EQ(sigismember(&mask, SIGUSR1), 1);
  // A blocking call in such a thread is not interrupted: the sleep runs out.
  std::thread sleeper([] {
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  });
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  sleeper.join();
  ASSERT_TRUE(eventually([&] { return signals.stop_requested(); }));
}

TEST(SignalWatcherTest, RequestStopAndDestructionWithoutASignal) {
  {
    SignalWatcher signals({.stop = {SIGUSR1}, .reload = {SIGUSR2}});
    signals.request_stop();
    EXPECT_TRUE(signals.stop_requested());
    EXPECT_EQ(signals.last_stop_signal(), 0);
  }  // joins its thread without any signal sent
  SignalWatcher nothing({});
  EXPECT_FALSE(nothing.stop_requested());
}

}  // namespace
}  // namespace tally
