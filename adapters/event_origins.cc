#include "adapters/event_origins.h"

#include <algorithm>
#include <iterator>

namespace tally::adapters {

void EventOrigins::note(const Origin& origin) {
  ++events_;
  if (!runs_.empty()) {
    const Run& last = runs_.back();
    if (last.origin.input == origin.input && last.origin.element == origin.element &&
        last.origin.line + (events_ - last.first_event) == origin.line) {
      return;  // the run goes on
    }
  }
  runs_.push_back({events_, origin});
}

bool EventOrigins::find(std::uint64_t event, Origin& origin) const {
  const auto after =
      std::upper_bound(runs_.begin(), runs_.end(), event,
                       [](std::uint64_t value, const Run& run) { return value < run.first_event; });
  if (after == runs_.begin()) return false;
  const Run& run = *std::prev(after);
  origin = run.origin;
  origin.line += event - run.first_event;
  return true;
}

}  // namespace tally::adapters
