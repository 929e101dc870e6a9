// How a thread waits for a lock-free queue without a lock or a syscall per
// item: spin briefly (the other side is usually microseconds away), then
// yield, then sleep in growing steps capped at kMaxSleep, so an idle thread
// costs almost nothing on a 2-core machine and a busy one never sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace tally {

class Backoff {
 public:
  static constexpr std::chrono::microseconds kMaxSleep{200};

  void reset() noexcept { rounds_ = 0; }
  void pause() noexcept {
    ++rounds_;
    if (rounds_ <= 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (rounds_ <= 80) {
      std::this_thread::yield();
    } else {
      const auto step = std::chrono::microseconds(10) * (rounds_ - 80);
      std::this_thread::sleep_for(step < kMaxSleep ? step : kMaxSleep);
    }
  }

 private:
  std::uint32_t rounds_ = 0;
};

}  // namespace tally
