// Template definitions for work_queue.h.
#pragma once

#include <thread>

#include "core/backoff.h"

namespace tally {

template <typename GiveUp>
bool push_blocking(WorkQueue& queue, const WorkItem* items, std::size_t count,
                   GiveUp&& should_give_up) {
  Backoff backoff;
  while (count > 0) {
    const std::size_t pushed = queue.push(items, count);
    items += pushed;
    count -= pushed;
    if (count == 0) break;
    if (pushed > 0) {
      backoff.reset();
    } else {
      if (should_give_up()) return false;
      backoff.pause();
    }
  }
  return true;
}

}  // namespace tally
