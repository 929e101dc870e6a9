#include "core/work_queue.h"

namespace tally {

QueueMatrix::QueueMatrix(std::uint32_t producers, std::uint32_t workers)
    : producers_(producers), workers_(workers) {
  queues_.reserve(std::size_t{producers} * workers);
  for (std::uint32_t i = 0; i < producers * workers; ++i) {
    queues_.push_back(std::make_unique<WorkQueue>());
  }
}

std::size_t QueueMatrix::depth(std::uint32_t worker) const noexcept {
  std::size_t total = 0;
  for (std::uint32_t producer = 0; producer < producers_; ++producer) {
    // read_available() is meant for the consumer, but both indices are
    // atomics, so from here it is a consistent-enough gauge reading.
    total += queues_[producer * workers_ + worker]->read_available();
  }
  return total;
}

}  // namespace tally
