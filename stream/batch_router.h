// Routes one batch's decoded events to the workers' queues: the decoder's
// sink, shared by every source of events (the ZeroMQ ingest server and the
// JetStream source).
//
// Each event goes to the worker that owns its subject's key group, staged
// per worker and pushed in chunks (one release-store per chunk, not per
// event). A refused line is counted by reason, written to the dead-letter
// file, and noted on the batch's ticket (if it has one). After the batch,
// finish() pushes what is staged and advances the event clock; end_ticket()
// sends the end-of-batch marker to every worker that got one of its events.
// take_finished() hands back the batches the workers have finished, after
// recording what the workers refused (core/refusals.h) like a refused line.
//
// Key groups change owners at run time (core/route_wave.h): the source calls
// apply_route_changes() between batches, never inside one, so every event
// of a batch is routed under one map and its end marker reaches every
// worker that got one of its events.
//
// Guarantees: a full queue blocks (backpressure); while it does,
// `while_full` runs (the source answers finished batches there, so a worker
// waiting to hand a ticket back never deadlocks with it). Nothing is dropped.
//
// Thread-safety: one thread, the source's (the only producer on its row).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "core/ingest_counters.h"
#include "core/key_groups.h"
#include "core/refusals.h"
#include "core/work_queue.h"
#include "stream/event_decoder.h"
#include "stream/rejected_log.h"

namespace tally::stream {

class BatchRouter final : public DecodeSink {
 public:
  // `producer` is the caller's row in `queues`. Everything passed outlives
  // the router.
  // `done_tickets`: each worker's queue of finished tickets, and `refusals`,
  // what the workers refused (both the engine's; `refusals` may be null
  // where no worker refuses, in tests).
  BatchRouter(QueueMatrix& queues, std::uint32_t producer, KeyGroupMap& groups,
              std::vector<TicketQueue*> done_tickets, IngestCounters& counters,
              RejectedLog& rejected_log, std::function<void()> while_full,
              RefusalBox* refusals = nullptr);

  // Between batches: applies the route wave waiting in the key group map,
  // if any (new owners, handovers queued, new workers' queues). True if one
  // was applied.
  bool apply_route_changes();
  // Takes every ticket the workers have finished, records the events they
  // refused (counted, written to the dead-letter file, noted on their
  // ticket), then hands each ticket to `answer`, which owns it from then on.
  void take_finished(const std::function<void(BatchTicket&)>& answer);
  // Once the workers have stopped: records what they refused since the
  // source stopped (fire-and-forget events still queued then; a ticket
  // named by one is not touched: it was answered or given up on).
  void record_late_refusals();
  // Readable when a route wave waits (a polling source adds it to its poll set).
  int wake_fd() const noexcept { return groups_.wake_fd(); }

  // A new batch from `channel` (named in the dead-letter file); `ticket`
  // null for a fire-and-forget batch.
  void begin(std::string_view channel, BatchTicket* ticket);
  void on_event(const Event& event, std::uint32_t line_number) override;
  void on_reject(std::uint32_t line_number, std::string_view line, const Status& why) override;
  // Pushes every staged event and advances `event_clock` to the batch's
  // latest event time; returns how many workers got events of this batch.
  std::uint32_t finish(std::atomic<std::int64_t>& event_clock);
  // Sends the end-of-batch marker to every worker that got events of it.
  void end_ticket(BatchTicket& ticket);

 private:
  void flush(std::uint32_t worker);
  void record(const Refusal& refusal, bool ticket_alive = true);
  void push(std::uint32_t worker, const WorkItem* items, std::size_t count);

  QueueMatrix& queues_;
  std::uint32_t producer_;
  KeyGroupMap& groups_;
  std::vector<TicketQueue*> done_;
  IngestCounters& counters_;
  RejectedLog& rejected_log_;
  std::function<void()> while_full_;
  RefusalBox* refusals_;
  std::vector<BatchTicket*> finished_;  // reused by take_finished
  // The channels of batches with and without a ticket, for refusals' records.
  std::string_view ticket_channel_ = "submit";
  std::string_view plain_channel_ = "ingest";
  std::vector<std::vector<WorkItem>> staging_;
  std::vector<bool> touched_;
  std::string_view channel_;
  BatchTicket* ticket_ = nullptr;
  std::int64_t received_ns_ = 0;
  std::int64_t max_event_time_ = 0;
};

}  // namespace tally::stream
