#include "stream/batch_router.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/route_wave.h"

namespace tally::stream {
namespace {

constexpr std::size_t kStagingItems = 128;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void add_relaxed(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
  // Single writer: a plain load and store, no locked read-modify-write.
  counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
}

}  // namespace

BatchRouter::BatchRouter(QueueMatrix& queues, std::uint32_t producer, KeyGroupMap& groups,
                         std::vector<TicketQueue*> done_tickets, IngestCounters& counters,
                         RejectedLog& rejected_log, std::function<void()> while_full,
                         RefusalBox* refusals)
    : queues_(queues),
      producer_(producer),
      groups_(groups),
      done_(std::move(done_tickets)),
      counters_(counters),
      rejected_log_(rejected_log),
      while_full_(std::move(while_full)),
      refusals_(refusals),
      staging_(done_.size()),
      touched_(done_.size(), false) {
  for (auto& stage : staging_) stage.reserve(kStagingItems);
}

bool BatchRouter::apply_route_changes() {
  RouteWave* wave = groups_.take_wave();
  if (wave == nullptr) return false;
  // New workers first: the wave may route to them.
  if (wave->worker_slots > staging_.size()) {
    const std::size_t before = staging_.size();
    staging_.resize(wave->worker_slots);
    touched_.resize(wave->worker_slots, false);
    for (std::size_t worker = before; worker < staging_.size(); ++worker) {
      staging_[worker].reserve(kStagingItems);
    }
  }
  if (wave->done_queues.size() > done_.size()) done_ = wave->done_queues;
  apply_wave(*wave, groups_, queues_, producer_, while_full_);
  return true;
}

void BatchRouter::begin(std::string_view channel, BatchTicket* ticket) {
  channel_ = channel;
  (ticket != nullptr ? ticket_channel_ : plain_channel_) = channel;
  ticket_ = ticket;
  received_ns_ = steady_now_ns();
  max_event_time_ = std::numeric_limits<std::int64_t>::min();
  std::fill(touched_.begin(), touched_.end(), false);
}

void BatchRouter::on_event(const Event& event, std::uint32_t line_number) {
  const std::uint32_t worker = groups_.worker_of(event.subject_hash);
  auto& stage = staging_[worker];
  WorkItem& item = stage.emplace_back();
  item.kind = WorkKind::kEvent;
  item.line = line_number;
  item.event = event;
  item.received_ns = received_ns_;
  item.ticket = ticket_;
  touched_[worker] = true;
  max_event_time_ = std::max(max_event_time_, event.time_ms);
  if (stage.size() == kStagingItems) flush(worker);
}

void BatchRouter::on_reject(std::uint32_t line_number, std::string_view line, const Status& why) {
  const RejectReason reason = reject_reason_of(why);
  add_relaxed(counters_.rejected[static_cast<std::size_t>(reason)], 1);
  if (!rejected_log_.write(channel_, ticket_ != nullptr ? ticket_->batch_id : "", line_number,
                           reason, why.message(), line)) {
    add_relaxed(counters_.rejects_unwritten, 1);
  }
  if (ticket_ != nullptr) ticket_->rejected.push_back({line_number, reason});
}

std::uint32_t BatchRouter::finish(std::atomic<std::int64_t>& event_clock) {
  for (std::uint32_t worker = 0; worker < staging_.size(); ++worker) flush(worker);
  if (max_event_time_ != std::numeric_limits<std::int64_t>::min()) {
    std::int64_t seen = event_clock.load(std::memory_order_relaxed);
    while (seen < max_event_time_ &&
           !event_clock.compare_exchange_weak(seen, max_event_time_, std::memory_order_relaxed)) {
    }
  }
  return static_cast<std::uint32_t>(std::count(touched_.begin(), touched_.end(), true));
}

void BatchRouter::take_finished(const std::function<void(BatchTicket&)>& answer) {
  // Tickets first, refusals second: a worker posts its refusals before it
  // hands back the ticket, so every refusal of a ticket taken here is in the
  // box by now, and no ticket is answered (and freed) with one still there.
  finished_.clear();
  for (TicketQueue* queue : done_) {
    queue->consume_all([this](BatchTicket* ticket) { finished_.push_back(ticket); });
  }
  if (refusals_ != nullptr) refusals_->drain([this](const Refusal& refusal) { record(refusal); });
  for (BatchTicket* ticket : finished_) answer(*ticket);
}

void BatchRouter::record_late_refusals() {
  if (refusals_ != nullptr) {
    refusals_->drain([this](const Refusal& refusal) { record(refusal, false); });
  }
  rejected_log_.flush();
}

void BatchRouter::record(const Refusal& refusal, bool ticket_alive) {
  add_relaxed(counters_.rejected[static_cast<std::size_t>(refusal.reason)], 1);
  BatchTicket* ticket = ticket_alive ? refusal.ticket : nullptr;
  if (!rejected_log_.write(ticket != nullptr ? ticket_channel_ : plain_channel_,
                           ticket != nullptr ? ticket->batch_id : "", refusal.line, refusal.reason,
                           refusal.detail, refusal.raw)) {
    add_relaxed(counters_.rejects_unwritten, 1);
  }
  if (ticket == nullptr) return;
  // Lines refused by the decoder come first, in order; keep the list in order.
  auto& rejected = ticket->rejected;
  const BatchTicket::Rejection rejection{refusal.line, refusal.reason};
  rejected.insert(std::upper_bound(rejected.begin(), rejected.end(), rejection,
                                   [](const auto& a, const auto& b) { return a.line < b.line; }),
                  rejection);
}

void BatchRouter::end_ticket(BatchTicket& ticket) {
  WorkItem marker;
  marker.kind = WorkKind::kBatchEnd;
  marker.ticket = &ticket;
  for (std::uint32_t worker = 0; worker < touched_.size(); ++worker) {
    if (touched_[worker]) push(worker, &marker, 1);
  }
}

void BatchRouter::flush(std::uint32_t worker) {
  auto& stage = staging_[worker];
  if (stage.empty()) return;
  push(worker, stage.data(), stage.size());
  add_relaxed(counters_.routed, stage.size());
  stage.clear();
}

void BatchRouter::push(std::uint32_t worker, const WorkItem* items, std::size_t count) {
  push_blocking(queues_.at(producer_, worker), items, count, [this] {
    while_full_();
    return false;
  });
}

}  // namespace tally::stream
