#include "core/key_groups.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace tally {

KeyGroupMap::KeyGroupMap(std::uint32_t workers)
    : owner_(std::make_unique<std::atomic<std::uint16_t>[]>(kKeyGroups)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (workers == 0 || workers > kKeyGroups) {
    throw std::invalid_argument("worker count must be between 1 and 4096");
  }
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed: cannot make the route mailbox");
  for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
    set_owner(group, initial_owner(group, workers));
  }
}

KeyGroupMap::~KeyGroupMap() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::vector<std::uint32_t> KeyGroupMap::owners() const {
  std::vector<std::uint32_t> out(kKeyGroups);
  for (std::uint32_t group = 0; group < kKeyGroups; ++group) out[group] = worker_of_group(group);
  return out;
}

std::vector<std::uint32_t> KeyGroupMap::groups_per_worker(std::uint32_t slots) const {
  std::vector<std::uint32_t> counts(slots, 0);
  for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
    const std::uint32_t owner = worker_of_group(group);
    if (owner < slots) ++counts[owner];
  }
  return counts;
}

void KeyGroupMap::post_wave(RouteWave* wave) noexcept {
  pending_.store(wave, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

RouteWave* KeyGroupMap::take_wave() noexcept {
  if (pending_.load(std::memory_order_relaxed) == nullptr) return nullptr;
  std::uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
  return pending_.exchange(nullptr, std::memory_order_acquire);
}

}  // namespace tally
