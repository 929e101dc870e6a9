#include "core/work_queue.h"

#include <stdexcept>

namespace tally {

QueueMatrix::QueueMatrix(std::uint32_t producers, std::uint32_t workers)
    : producers_(producers), queues_(std::size_t{producers} * kMaxQueueWorkers) {
  if (workers > kMaxQueueWorkers) throw std::invalid_argument("more than 4096 workers");
  for (std::uint32_t worker = 0; worker < workers; ++worker) add_worker(worker);
}

void QueueMatrix::add_worker(std::uint32_t worker) {
  for (std::uint32_t producer = 0; producer < producers_; ++producer) {
    auto& queue = queues_[producer * kMaxQueueWorkers + worker];
    if (!queue) queue = std::make_unique<WorkQueue>();
  }
}

std::size_t QueueMatrix::depth(std::uint32_t worker) const noexcept {
  std::size_t total = 0;
  for (std::uint32_t producer = 0; producer < producers_; ++producer) {
    // read_available() is meant for the consumer, but both indices are
    // atomics, so from here it is a consistent-enough gauge reading.
    const auto& queue = queues_[producer * kMaxQueueWorkers + worker];
    if (queue) total += queue->read_available();
  }
  return total;
}

}  // namespace tally
