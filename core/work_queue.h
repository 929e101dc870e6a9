// What travels from the ingest and control threads to a shard worker, and the
// queues it travels in.
//
// There is one single-producer/single-consumer queue per (producer thread,
// worker) pair, so no queue is ever shared by two writers and the hot path
// needs no lock and no compare-and-swap. A producer that finds a queue full
// waits (backpressure); nothing is ever dropped.
//
// Thread-safety: a WorkQueue has exactly one producer thread and one consumer
// thread; QueueMatrix only grows (add_worker), from one thread at a time.
#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/reject_reason.h"

namespace tally {

// A command for a worker that is not an event (a query, a stats request).
// Defined by the consumer (the scorer); the stream only carries the pointer.
// The sender owns it and keeps it alive until the worker has answered.
class WorkerCommand {
 public:
  virtual ~WorkerCommand() = default;
};

// An acknowledged batch in flight. Each worker that received events of the
// batch adds its counts once, at the batch's end marker, and the last one to
// finish hands the ticket back to the ingest thread, which answers the client.
// So the atomics here are touched once per (batch, worker), never per event.
struct BatchTicket {
  struct Rejection {
    std::uint32_t line;
    RejectReason reason;
  };
  std::string client_identity;  // ZeroMQ routing id of the DEALER
  std::string batch_id;         // opaque, at most 64 bytes, echoed back
  bool req_envelope = false;    // sent by a REQ socket: answer with its empty delimiter
  std::vector<Rejection> rejected;
  std::atomic<std::uint32_t> pending_workers{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> duplicates{0};
};

enum class WorkKind : std::uint8_t {
  kEvent,     // apply `event`
  kBatchEnd,  // all events of `ticket` for this worker precede this item
  kCommand,   // run `command`
  kReplay,    // apply `event` read back from a snapshot or journal at start:
              // no journal record, no alert (it was journaled and alerted on
              // when it first arrived)
};

struct WorkItem {
  WorkKind kind = WorkKind::kEvent;
  std::uint32_t line = 0;  // the event's line in its message, from 1 (in the padding after kind)
  Event event;
  std::int64_t received_ns = 0;   // steady clock when its batch arrived
  BatchTicket* ticket = nullptr;  // set for events of acknowledged batches
  WorkerCommand* command = nullptr;
};

// A WorkItem is 512 bytes (the Event's inline strings are most of it: 480):
// the queue sizes below, and the memory they take, follow from it.
inline constexpr std::size_t kWorkItemBytes = 512;
static_assert(sizeof(WorkItem) == kWorkItemBytes,
              "WorkItem changed size: update kWorkItemBytes and the queue sizing below");

// Items per queue. 4096 x 512 bytes = 2 MiB per (producer, worker) pair:
// deep enough to absorb a large batch; the part in use at a time (the items
// between the producer and the consumer) stays in L2/L3.
inline constexpr std::size_t kWorkQueueCapacity = 4096;

using WorkQueue =
    boost::lockfree::spsc_queue<WorkItem, boost::lockfree::capacity<kWorkQueueCapacity>>;

// Tickets finished by a worker, on their way back to the ingest thread.
using TicketQueue = boost::lockfree::spsc_queue<BatchTicket*, boost::lockfree::capacity<4096>>;

// Worker slots a QueueMatrix can hold: a worker owns at least one key group.
inline constexpr std::uint32_t kMaxQueueWorkers = 4096;

// queues[producer][worker]. Columns (a worker's queues) are made when the
// worker is added and never freed or moved while the matrix lives, so a
// producer that learnt of a worker (through a RouteWave, which publishes
// it) may use its queues without further synchronisation.
class QueueMatrix {
 public:
  QueueMatrix(std::uint32_t producers, std::uint32_t workers);
  WorkQueue& at(std::uint32_t producer, std::uint32_t worker) noexcept {
    return *queues_[producer * kMaxQueueWorkers + worker];
  }
  std::uint32_t producers() const noexcept { return producers_; }
  // Makes worker `worker`'s queues if it has none yet (the engine, before
  // anyone routes to it).
  void add_worker(std::uint32_t worker);
  // Approximate number of items waiting for `worker` across all producers.
  std::size_t depth(std::uint32_t worker) const noexcept;

 private:
  std::uint32_t producers_;
  std::vector<std::unique_ptr<WorkQueue>> queues_;  // producers x kMaxQueueWorkers
};

// Pushes `count` items, waiting while the queue is full. `should_give_up` is
// polled while waiting; returns false only if it said so.
template <typename GiveUp>
bool push_blocking(WorkQueue& queue, const WorkItem* items, std::size_t count,
                   GiveUp&& should_give_up);

}  // namespace tally

#include "core/work_queue_inl.h"
