// The opt-in autoscaler: when to add or remove a worker, from what the
// workers report once a second.
//
//   up:   the busiest worker's utilisation has stayed above `high` for
//         `after`, and a queue is backing up (more than `backlog` items
//         waiting) at every sample of that time: one worker more.
//   down: every worker has stayed below `low` for ten times `after`: one
//         worker fewer.
//   never outside [min, max]; a count found outside (a manual change, a
//   start with another --workers) is brought back at once.
//
// It only decides; the daemon's control loop carries the decision out
// (Engine::rescale) and logs it with its reason. Any change of the count,
// its own or an operator's, starts both clocks again, so it goes on from
// the new count.
//
// Thread-safety: observe() from one thread (the control loop); the counts
// from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace tally::scorer {

struct AutoscaleOptions {
  // The range; max 0: the autoscaler is off. From --autoscale MIN:MAX.
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  // Utilisation above which a worker counts as saturated. Default 0.8.
  double high = 0.8;
  // Utilisation below which every worker must stay to remove one. Default 0.3.
  double low = 0.3;
  // How long saturation must last to add a worker (removing waits ten
  // times this). Default 30 s.
  std::chrono::milliseconds after{30'000};
  // Items waiting in a worker's queues that count as "backing up". Default 1024.
  std::size_t backlog = 1024;

  bool enabled() const noexcept { return max > 0; }
};

// "MIN:MAX" with 1 <= MIN <= MAX <= 4096.
Result<AutoscaleOptions> parse_autoscale_range(std::string_view text);

class Autoscaler {
 public:
  using Clock = std::chrono::steady_clock;
  struct Decision {
    std::uint32_t workers = 0;  // the count to change to
    std::string reason;         // for the log
  };

  explicit Autoscaler(AutoscaleOptions options) : options_(options) {}

  // One sample: the running count and, per worker, its utilisation over the
  // last interval and its queue depth. A decision when one is due.
  std::optional<Decision> observe(Clock::time_point now, std::uint32_t workers,
                                  const std::vector<double>& utilisation,
                                  const std::vector<std::size_t>& queue_depth);
  // While a change runs, nothing is decided and the clocks start again.
  void pause() noexcept;

  const AutoscaleOptions& options() const noexcept { return options_; }
  std::uint64_t ups() const noexcept { return ups_.load(std::memory_order_relaxed); }
  std::uint64_t downs() const noexcept { return downs_.load(std::memory_order_relaxed); }

 private:
  std::optional<Decision> decide(std::uint32_t to, std::string reason);

  AutoscaleOptions options_;
  std::uint32_t seen_workers_ = 0;
  std::optional<Clock::time_point> hot_since_;
  std::optional<Clock::time_point> cold_since_;
  std::atomic<std::uint64_t> ups_{0};
  std::atomic<std::uint64_t> downs_{0};
};

}  // namespace tally::scorer
