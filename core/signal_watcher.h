// Signals, taken by one thread that waits for them, turned into flags.
//
// A process that handles SIGTERM with an asynchronous handler has two
// problems: the handler may run on any thread, in the middle of anything, and
// may only touch lock-free atomics; and every blocking call of every thread
// can fail with EINTR (cppzmq turns that into an exception). A SignalWatcher
// avoids both: it blocks its signals in the thread that creates it, so in
// every thread started after (threads inherit the mask), and one thread of its
// own takes them with sigwait. No handler runs, no call is interrupted, and the
// rest of the program only reads flags.
//
//   SignalWatcher signals({.stop = {SIGINT, SIGTERM}, .reload = {SIGHUP}});
//   ... start threads, run ...
//   while (!signals.stop_requested()) { ...; if (signals.take_reload()) reload(); }
//
// Create it first in main, before any other thread starts (a ZeroMQ context,
// a worker): a thread that started earlier still has the signals unblocked,
// and one sent to the process could be delivered there, with its default
// action. A signal sent to one thread (raise(), pthread_kill) stays pending on
// that thread; only the process-directed ones (kill, a terminal's Ctrl-C) are
// taken.
//
// The signals stay blocked after the watcher is gone, so that a late SIGTERM
// cannot kill a process between its summary and its exit; the last one is
// simply never taken.
//
// Thread-safety: the query methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace tally {

struct SignalWatcherOptions {
  // Signals that ask the program to stop (each one counts; see stop_count()).
  std::vector<int> stop;
  // Signals that ask the program to re-read its configuration.
  std::vector<int> reload;
};

class SignalWatcher {
 public:
  // Blocks the signals in the calling thread and starts the waiting thread.
  // Throws std::system_error if the thread cannot start (start-up only).
  explicit SignalWatcher(SignalWatcherOptions options);
  // Stops the waiting thread; the signals stay blocked.
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // True once any stop signal has arrived (or request_stop() was called).
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_acquire); }
  // The flag itself, for a component that takes a `const std::atomic<bool>*`.
  const std::atomic<bool>& stop_flag() const noexcept { return stop_; }
  // Stop signals taken so far: a program may treat a second one as "now".
  std::uint32_t stop_count() const noexcept { return stop_count_.load(std::memory_order_acquire); }
  // The last stop signal taken (SIGTERM...), 0 if none.
  int last_stop_signal() const noexcept { return last_stop_.load(std::memory_order_acquire); }
  // True once per reload signal burst: reads and clears the reload flag.
  bool take_reload() noexcept { return reload_.exchange(false, std::memory_order_acq_rel); }

  // As if a stop signal had arrived (tests, and a program stopping itself).
  void request_stop() noexcept;

 private:
  void wait_for_signals();

  SignalWatcherOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> stop_count_{0};
  std::atomic<int> last_stop_{0};
  std::atomic<bool> reload_{false};
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

}  // namespace tally
