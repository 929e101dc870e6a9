#include "core/signal_watcher.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

namespace tally {
namespace {

sigset_t signal_set(const SignalWatcherOptions& options) {
  sigset_t set;
  sigemptyset(&set);
  for (const int signal : options.stop) sigaddset(&set, signal);
  for (const int signal : options.reload) sigaddset(&set, signal);
  return set;
}

bool contains(const std::vector<int>& signals, int signal) {
  return std::find(signals.begin(), signals.end(), signal) != signals.end();
}

}  // namespace

SignalWatcher::SignalWatcher(SignalWatcherOptions options) : options_(std::move(options)) {
  if (options_.stop.empty() && options_.reload.empty()) return;  // nothing to wait for
  const sigset_t set = signal_set(options_);
  // Blocked here first, so that the waiting thread (and every thread the
  // caller starts later) inherits the mask: no handler, no EINTR anywhere.
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set] {
    for (;;) {
      int signal = 0;
      if (::sigwait(&set, &signal) != 0) continue;
      if (closing_.load(std::memory_order_acquire)) return;
      if (contains(options_.stop, signal)) {
        last_stop_.store(signal, std::memory_order_release);
        stop_count_.fetch_add(1, std::memory_order_acq_rel);
        stop_.store(true, std::memory_order_release);
      } else if (contains(options_.reload, signal)) {
        reload_.store(true, std::memory_order_release);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  if (!thread_.joinable()) return;
  closing_.store(true, std::memory_order_release);
  // Wake the waiting thread with one of its own signals, sent to it alone: it
  // sees `closing_` and returns. (A process-directed signal arriving at the
  // same moment wakes it just as well.)
  const int wake = options_.stop.empty() ? options_.reload.front() : options_.stop.front();
  ::pthread_kill(thread_.native_handle(), wake);
  thread_.join();
}

void SignalWatcher::request_stop() noexcept {
  stop_count_.fetch_add(1, std::memory_order_acq_rel);
  stop_.store(true, std::memory_order_release);
}

}  // namespace tally
