// A wave of key-group moves, as the event producer applies it.
//
// A live worker-count change (scorer/rescaler.h) moves key groups in waves.
// For each wave, the one event producer (the ingest thread, whose row is the
// only one that carries events) does, between two batches:
//
//   1. owner[g] = to, for every moving group g;
//   2. queues, to each source worker, on its own row, the handover command:
//      it runs after every event that worker was sent for g (the queue is
//      FIFO), so the state it hands over is complete;
//   3. stamps the wave applied.
//
// Events for g routed after step 1 reach the new owner before g's state may
// have: the new owner holds them back (it knows which groups it holds) and
// applies them, in their order, once the state arrives. So no event is lost
// or applied twice, and only the moving groups ever wait.
//
// Thread-safety: filled by the rescaler, then handed over through
// KeyGroupMap::post_wave(); applied by the producer; applied_ns read by the
// rescaler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/key_groups.h"
#include "core/work_queue.h"

namespace tally {

struct GroupMove {
  std::uint16_t group = 0;
  std::uint16_t from = 0;
  std::uint16_t to = 0;
};

struct RouteWave {
  std::vector<GroupMove> moves;
  // (source worker, its handover command): one per worker that gives groups.
  std::vector<std::pair<std::uint32_t, WorkerCommand*>> handovers;
  // Worker slots the producer may route to once the wave is applied, and
  // every slot's queue of finished tickets (new workers' included).
  std::uint32_t worker_slots = 0;
  std::vector<TicketQueue*> done_queues;
  // Steady-clock nanoseconds when the producer switched the owners; 0 until.
  std::atomic<std::int64_t> applied_ns{0};
};

// The producer's part (steps 1 to 3 above), on its row `producer`.
// `while_full` runs while a source worker's queue is full (as in
// push_blocking).
template <typename WhileFull>
void apply_wave(RouteWave& wave, KeyGroupMap& groups, QueueMatrix& queues, std::uint32_t producer,
                WhileFull&& while_full) {
  for (const GroupMove& move : wave.moves) groups.set_owner(move.group, move.to);
  WorkItem item;
  item.kind = WorkKind::kCommand;
  for (const auto& [worker, command] : wave.handovers) {
    item.command = command;
    push_blocking(queues.at(producer, worker), &item, 1, [&] {
      while_full();
      return false;
    });
  }
  wave.applied_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count(),
                        std::memory_order_release);
}

}  // namespace tally
