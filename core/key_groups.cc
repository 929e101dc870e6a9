#include "core/key_groups.h"

#include <stdexcept>

namespace tally {

KeyGroupMap::KeyGroupMap(std::uint32_t workers) : workers_(workers), owner_(kKeyGroups) {
  if (workers == 0 || workers > kKeyGroups) {
    throw std::invalid_argument("worker count must be between 1 and 4096");
  }
  // Group g goes to worker floor(g * workers / kKeyGroups): contiguous ranges
  // whose sizes differ by at most one.
  for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
    owner_[group] = static_cast<std::uint16_t>(std::uint64_t{group} * workers / kKeyGroups);
  }
}

}  // namespace tally
