// Events a worker refused after the ingest thread had routed them (a subject
// already holding --max-events-per-subject): handed back to the ingest
// thread, which owns the dead-letter file, the reject counters and the batch
// answers, so that such an event is counted, written and answered like a
// line the decoder refused. Nothing a client sent vanishes without trace.
//
// Thread-safety: post() from any worker, drain() from the ingest thread. A
// mutex, taken when a worker refuses (rare) and by the ingest thread only
// when something was posted: never once per accepted event.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/reject_reason.h"
#include "core/work_queue.h"

namespace tally {

struct Refusal {
  std::string raw;         // the event as a JSON line (the worker no longer has the one sent)
  std::string detail;      // why, for the dead-letter record
  std::uint32_t line = 0;  // in its message, from 1
  RejectReason reason = RejectReason::kSubjectFull;
  // The event's acknowledged batch, or nullptr. A worker posts the refusal
  // before it finishes its part of the batch, so the ticket is unanswered
  // (alive) until the ingest thread has drained this refusal: it must drain
  // after taking finished tickets and before answering them.
  BatchTicket* ticket = nullptr;
};

class RefusalBox {
 public:
  void post(const Refusal& refusal) {
    const std::lock_guard lock(mutex_);
    posted_.push_back(refusal);
    nonempty_.store(true, std::memory_order_release);
  }

  // Hands each posted refusal to `take`, in the order posted.
  template <typename Take>
  void drain(Take&& take) {
    if (!nonempty_.load(std::memory_order_acquire)) return;
    {
      const std::lock_guard lock(mutex_);
      taken_.swap(posted_);
      nonempty_.store(false, std::memory_order_relaxed);
    }
    for (const Refusal& refusal : taken_) take(refusal);
    taken_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<Refusal> posted_;
  std::vector<Refusal> taken_;  // the ingest thread's; reused
  std::atomic<bool> nonempty_{false};
};

}  // namespace tally
