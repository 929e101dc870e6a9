#include "scorer/shard_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/backoff.h"
#include "core/json_writer.h"

namespace tally::scorer {
namespace {

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reading the clock per event would cost more than applying some events;
// once every kClockStride events keeps the latency figure honest to within a
// few microseconds.
constexpr std::uint32_t kClockStride = 16;

}  // namespace

void SubjectCommand::run(ShardWorker& worker) {
  misrouted_ = !worker.holds(group_);
  if (!misrouted_) run_held(worker);
}

ShardWorker::ShardWorker(std::uint32_t id, WorkerOptions options, ShardContext context,
                         QueueMatrix& queues, TicketQueue& done_tickets,
                         const std::bitset<kKeyGroups>& held)
    : id_(id),
      held_(held),
      held_groups_(static_cast<std::uint32_t>(held.count())),
      options_(options),
      context_(context),
      queues_(queues),
      done_tickets_(done_tickets),
      table_(*context.interns, options.table),
      chunk_(kChunkItems) {
  if (options_.journal.enabled) {
    journal_ = std::make_unique<storage::JournalWriter>(options_.env, options_.journal, id_);
    awaiting_journal_.reserve(kWorkQueueCapacity);
  }
}

Status ShardWorker::open_journal(std::uint64_t generation) {
  return journal_ != nullptr ? journal_->start_generation(generation) : Status::ok();
}

std::int64_t ShardWorker::now_ms() const noexcept {
  if (rules().score().clock == Clock::kEvent) {
    return context_.event_clock->load(std::memory_order_relaxed);
  }
  return wall_now_ms();
}

void ShardWorker::run(const std::atomic<bool>& stop) {
  Backoff backoff;
  last_purge_ms_ = wall_now_ms();
  last_sweep_wall_ms_ = last_purge_ms_;
  while (true) {
    const std::int64_t start_ns = steady_now_ns();
    chunk_steady_ns_ = start_ns;
    chunk_wall_ms_ = wall_now_ms();
    // Both are a comparison unless due, and are checked under load too, so
    // that a never-idle worker still bounds its memory and alerts expiries.
    maybe_purge(chunk_wall_ms_);
    maybe_sweep_expiries(chunk_wall_ms_);
    since_clock_read_ = 0;
    std::size_t handled = 0;
    if (inbox_pending_.load(std::memory_order_acquire)) {
      install_arrivals();
      ++handled;
    }
    // While the disk refuses the journal and its buffer is full, events wait
    // in their queue (backpressure) but commands still run. Row 0 is the
    // ingest thread's (scorer::QueueRow::kIngest), the only one with events
    // besides recovery, which ends before ingest starts.
    const bool hold_events = journal_ != nullptr && journal_->over_buffer_limit();
    for (std::uint32_t row = hold_events ? 1 : 0; row < queues_.producers(); ++row) {
      handled += drain(queues_.at(row, id_));
    }
    commit(chunk_wall_ms_);
    if (handled > 0) {
      busy_ns_ += steady_now_ns() - start_ns;
      busy_published_ns_.store(busy_ns_, std::memory_order_relaxed);
      backoff.reset();
      continue;
    }
    // Idle. `stop` is checked only when every queue was found empty, so a
    // stop drains everything queued before it. A retiring worker also waits
    // for the batches it applied to be answered.
    if (stop.load(std::memory_order_acquire)) break;
    if (retire_.load(std::memory_order_acquire) && awaiting_journal_.empty()) break;
    backoff.pause();
  }
  if (journal_ == nullptr) return;
  // Last chance for what is buffered; a disk that stays full loses nothing
  // that was acknowledged (unanswered batches are resent by their clients).
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (journal_->finish().is_ok()) {
      queue_staged_alerts();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (journal_->pending_bytes() > 0) {
    spdlog::error(
        "worker {}: stopping with {} journal bytes unwritten ({}); {} acknowledged "
        "batches stay unanswered and will be resent by their clients",
        id_, journal_->pending_bytes(), journal_->path(), awaiting_journal_.size());
  }
}

void ShardWorker::commit(std::int64_t wall_ms) {
  if (journal_ == nullptr) return;
  if (journal_error_streak_ > 0 && wall_ms < journal_retry_at_ms_) return;
  const Status flushed = journal_->flush(!awaiting_journal_.empty(), wall_ms);
  if (!flushed.is_ok()) {
    ++journal_error_streak_;
    journal_retry_at_ms_ = wall_ms + 100;
    if (journal_error_streak_ == 1 || wall_ms - journal_error_logged_ms_ >= 10'000) {
      journal_error_logged_ms_ = wall_ms;
      spdlog::error(
          "worker {}: cannot write the journal: {}; {} acknowledged batches wait, "
          "{} bytes buffered; retrying",
          id_, flushed.to_string(), awaiting_journal_.size(), journal_->pending_bytes());
    }
    return;
  }
  if (journal_error_streak_ > 0) {
    spdlog::info("worker {}: journal writable again after {} failed attempts", id_,
                 journal_error_streak_);
    journal_error_streak_ = 0;
  }
  journaled_records_.store(journal_->counters().records, std::memory_order_relaxed);
  queue_staged_alerts();  // a good flush wrote everything buffered
  const std::uint64_t settled = journal_->settled_position();
  std::size_t answered = 0;
  while (answered < awaiting_journal_.size() &&
         awaiting_journal_[answered].journal_position <= settled) {
    release(awaiting_journal_[answered++].ticket);
  }
  awaiting_journal_.erase(awaiting_journal_.begin(),
                          awaiting_journal_.begin() + static_cast<std::ptrdiff_t>(answered));
}

void ShardWorker::release(BatchTicket* ticket) {
  // acq_rel: the last worker sees every other worker's counts.
  if (ticket->pending_workers.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    Backoff backoff;
    while (!done_tickets_.push(ticket)) backoff.pause();
  }
}

SnapshotPartOutcome ShardWorker::take_snapshot(std::uint64_t generation) {
  SnapshotPartOutcome outcome;
  const std::int64_t start = steady_now_ns();
  outcome.status = journal_->finish();
  if (outcome.status.is_ok()) outcome.status = journal_->start_generation(generation);
  if (outcome.status.is_ok()) {
    journal_error_streak_ = 0;
    commit(wall_now_ms());  // what waited on the journal may be answered now
    outcome.part = write_snapshot_part(table_, options_.env, options_.journal.dir, generation, id_);
    outcome.status = outcome.part.status;
  }
  outcome.seconds = static_cast<double>(steady_now_ns() - start) * 1e-9;
  busy_ns_ += steady_now_ns() - start;
  return outcome;
}

std::size_t ShardWorker::drain(WorkQueue& queue) {
  // Pop in chunks so that the subject of an event a few places ahead can be
  // prefetched: a random subject among millions is a cache miss, and hiding
  // it behind the events before it is worth more than the copy out of the queue.
  constexpr std::size_t kPrefetchAhead = 8;
  std::size_t handled = 0;
  std::size_t count;
  // At most one queue's worth per pass: a producer that keeps its queue
  // full must not starve the other rows (queries, stats, a snapshot), nor
  // the journal's group commit between passes.
  while (handled < kWorkQueueCapacity && (count = queue.pop(chunk_.data(), chunk_.size())) > 0) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t ahead = i + kPrefetchAhead;
      if (ahead < count && chunk_[ahead].kind == WorkKind::kEvent) {
        table_.prefetch(chunk_[ahead].event.subject.view());
      }
      handle(chunk_[i]);
    }
    handled += count;
  }
  return handled;
}

void ShardWorker::handle(const WorkItem& item) {
  switch (item.kind) {
    case WorkKind::kEvent: {
      if (!held_.test(key_group_of(item.event.subject_hash))) {
        hold_back(item);  // its group's state is on its way here
        break;
      }
      const ApplyOutcome outcome = apply_item(item);
      if (item.ticket != nullptr && outcome != ApplyOutcome::kSubjectFull) {
        (outcome == ApplyOutcome::kAccepted ? ticket_accepted_ : ticket_duplicates_) += 1;
      }
      break;
    }
    case WorkKind::kBatchEnd: {
      BatchTicket* ticket = item.ticket;
      ticket->accepted.fetch_add(ticket_accepted_, std::memory_order_relaxed);
      ticket->duplicates.fetch_add(ticket_duplicates_, std::memory_order_relaxed);
      ticket_accepted_ = 0;
      ticket_duplicates_ = 0;
      if (!held_back_per_ticket_.empty() && held_back_per_ticket_.contains(ticket)) {
        ends_waiting_.push_back(ticket);  // answered once its held-back events are applied
      } else {
        end_batch(ticket);
      }
      break;
    }
    case WorkKind::kReplay: {
      table_.apply(item.event);
      ++recovered_;
      break;
    }
    case WorkKind::kCommand: {
      auto* command = static_cast<ShardCommand*>(item.command);
      command->run(*this);
      command->mark_done();
      break;
    }
  }
}

ApplyOutcome ShardWorker::apply_item(const WorkItem& item) {
  if (++since_clock_read_ == kClockStride) {
    since_clock_read_ = 0;
    chunk_steady_ns_ = steady_now_ns();
  }
  const RuleSet& current = rules();
  const std::int64_t now =
      current.score().clock == Clock::kEvent
          ? std::max(context_.event_clock->load(std::memory_order_relaxed), item.event.time_ms)
          : chunk_wall_ms_;
  const ApplyOutcome outcome = apply(item.event, now);
  if (journal_ != nullptr && outcome == ApplyOutcome::kAccepted) {
    journal_->append(record_of(item.event, *context_.interns));
  }
  if (outcome == ApplyOutcome::kSubjectFull) refuse(item);
  latency_.record(std::max<std::int64_t>(0, chunk_steady_ns_ - item.received_ns));
  return outcome;
}

void ShardWorker::end_batch(BatchTicket* ticket) {
  // With a journal, the answer waits for the pass's commit: even a batch of
  // duplicates, whose originals may not be synced yet.
  if (journal_ != nullptr) {
    awaiting_journal_.push_back({ticket, journal_->appended_position()});
  } else {
    release(ticket);
  }
}

void ShardWorker::hold_back(const WorkItem& item) {
  held_back_.push_back(item);
  if (item.ticket != nullptr) ++held_back_per_ticket_[item.ticket];
}

std::vector<std::unique_ptr<GroupTransfer>> ShardWorker::hand_over(
    const std::vector<GroupMove>& moves) {
  finish_sweep();
  const std::int64_t start = steady_now_ns();
  std::bitset<kKeyGroups> leaving;
  std::vector<std::unique_ptr<GroupTransfer>> transfers;
  std::vector<GroupTransfer*> by_group(kKeyGroups, nullptr);
  for (const GroupMove& move : moves) {
    GroupTransfer* transfer = nullptr;
    for (auto& made : transfers) {
      if (made->to == move.to) transfer = made.get();
    }
    if (transfer == nullptr) {
      transfer = transfers.emplace_back(std::make_unique<GroupTransfer>()).get();
      transfer->from = id_;
      transfer->to = move.to;
      transfer->swept_until_ms = swept_until_ms_;
    }
    transfer->groups.push_back(move.group);
    by_group[move.group] = transfer;
    leaving.set(move.group);
  }
  table_.extract_groups(leaving, [&](std::uint32_t group, std::string_view blob) {
    GroupTransfer& transfer = *by_group[group];
    transfer.blobs.append(blob);
    ++transfer.subjects;
  });
  held_ &= ~leaving;
  held_groups_.store(static_cast<std::uint32_t>(held_.count()), std::memory_order_relaxed);
  busy_ns_ += steady_now_ns() - start;
  return transfers;
}

void ShardWorker::receive(GroupTransfer* transfer) {
  const std::lock_guard lock(inbox_mutex_);
  inbox_.push_back(transfer);
  inbox_pending_.store(true, std::memory_order_release);
}

void ShardWorker::install_arrivals() {
  std::vector<GroupTransfer*> arrivals;
  {
    const std::lock_guard lock(inbox_mutex_);
    arrivals.swap(inbox_);
    inbox_pending_.store(false, std::memory_order_relaxed);
  }
  finish_sweep();
  const RuleSet& current = rules();
  const bool sweeping = options_.expiry_sweep_interval_ms > 0 && !current.tiers().empty() &&
                        swept_until_ms_ != std::numeric_limits<std::int64_t>::min();
  for (GroupTransfer* transfer : arrivals) {
    // Expiries the giver had not looked at yet but this worker has: look
    // now, or their alerts would be lost in the move.
    const std::int64_t from = transfer->swept_until_ms;
    const bool catch_up =
        sweeping && from != std::numeric_limits<std::int64_t>::min() && from < swept_until_ms_;
    table_.insert_blobs(transfer->blobs, [&](const SubjectState& state) {
      if (catch_up) alert_expiries(state, current, from, swept_until_ms_);
    });
    for (const std::uint16_t group : transfer->groups) held_.set(group);
  }
  held_groups_.store(static_cast<std::uint32_t>(held_.count()), std::memory_order_relaxed);
  apply_held_back();
  const std::int64_t now = steady_now_ns();
  for (GroupTransfer* transfer : arrivals) {
    transfer->installed_ns = now;
    transfer->installed.store(true, std::memory_order_release);
  }
}

void ShardWorker::apply_held_back() {
  std::size_t kept = 0;
  for (WorkItem& item : held_back_) {
    if (!held_.test(key_group_of(item.event.subject_hash))) {
      if (&held_back_[kept] != &item) held_back_[kept] = item;
      ++kept;
      continue;
    }
    const ApplyOutcome outcome = apply_item(item);
    BatchTicket* ticket = item.ticket;
    if (ticket == nullptr) continue;
    if (outcome != ApplyOutcome::kSubjectFull) {
      (outcome == ApplyOutcome::kAccepted ? ticket->accepted : ticket->duplicates)
          .fetch_add(1, std::memory_order_relaxed);
    }
    const auto it = held_back_per_ticket_.find(ticket);
    if (--it->second == 0) held_back_per_ticket_.erase(it);
  }
  held_back_.resize(kept);
  std::size_t still = 0;
  for (BatchTicket* ticket : ends_waiting_) {
    if (held_back_per_ticket_.contains(ticket)) {
      ends_waiting_[still++] = ticket;
    } else {
      end_batch(ticket);
    }
  }
  ends_waiting_.resize(still);
}

ApplyOutcome ShardWorker::apply(const Event& event, std::int64_t now_ms) {
  ++applied_;
  const RuleSet& current = rules();
  const bool tracks_tiers = !current.tiers().empty();
  // One lookup: the table scores the subject as it was while it applies.
  const SubjectTable::Applied applied =
      tracks_tiers ? table_.apply(event, now_ms) : table_.apply(event);
  if (applied.outcome == ApplyOutcome::kDuplicate) {
    ++duplicates_;
    return applied.outcome;
  }
  if (applied.outcome == ApplyOutcome::kSubjectFull) return applied.outcome;
  ++accepted_;
  if (event.type->is_revoke) ++revokes_;
  ++hits_[&RuleSet::rule_of(*event.type)];

  if (tracks_tiers) {
    const std::int64_t before = current.clamp(current.score().base + applied.before.raw);
    const std::int64_t after = current.clamp(current.score().base + applied.after.raw);
    const std::string_view from = current.tier_for(before);
    const std::string_view to = current.tier_for(after);
    if (from != to) {
      publish_alert(event.subject.view(), event.id.view(), from, to, after, now_ms);
    }
  }
  return applied.outcome;
}

void ShardWorker::refuse(const WorkItem& item) {
  if (context_.refusals == nullptr) return;
  const Event& event = item.event;
  Refusal refusal;
  JsonWriter json(refusal.raw);
  json.begin_object()
      .field("id", event.id.view())
      .field("subject", event.subject.view())
      .field("type", RuleSet::rule_of(*event.type).name)
      .field("time", event.time_ms);
  if (!event.source.view().empty()) json.field("source", event.source.view());
  if (event.type->is_revoke) json.field("revokes", event.revokes.view());
  json.end_object();
  refusal.detail = fmt::format("subject `{}` holds {} events (--max-events-per-subject)",
                               event.subject.view(), options_.table.max_events_per_subject);
  refusal.line = item.line;
  refusal.ticket = item.ticket;
  context_.refusals->post(refusal);
}

void ShardWorker::maybe_sweep_expiries(std::int64_t wall_ms) {
  if (sweeping_) {
    sweep_step(options_.sweep_slice_subjects);
    return;
  }
  if (options_.expiry_sweep_interval_ms <= 0 ||
      wall_ms - last_sweep_wall_ms_ < options_.expiry_sweep_interval_ms) {
    return;
  }
  last_sweep_wall_ms_ = wall_ms;
  const RuleSet& current = rules();
  const std::int64_t now = now_ms();
  if (swept_until_ms_ == std::numeric_limits<std::int64_t>::min() || current.tiers().empty()) {
    swept_until_ms_ = now;  // the first sweep only sets where the next one starts
    return;
  }
  if (now <= swept_until_ms_) return;
  // Room for every insert a pass can make, many passes over: a walk that
  // would run out of it is finished at once instead (sweep_step).
  sweep_started_subjects_ = table_.subjects();
  sweep_room_ = std::max(8 * max_inserts_per_pass(), sweep_started_subjects_ / 8);
  table_.reserve(sweep_started_subjects_ + sweep_room_);
  sweep_to_ms_ = now;
  sweeping_ = true;
  sweep_step(options_.sweep_slice_subjects);
}

void ShardWorker::sweep_step(std::size_t max_subjects) {
  const std::int64_t start = steady_now_ns();
  const std::size_t grown =
      table_.subjects() > sweep_started_subjects_ ? table_.subjects() - sweep_started_subjects_ : 0;
  if (grown + max_inserts_per_pass() >= sweep_room_) {
    max_subjects = std::numeric_limits<std::size_t>::max();
  }
  const RuleSet& current = rules();
  const WalkStep step = table_.walk_step(sweep_walk_, max_subjects, [&](const SubjectState& state) {
    alert_expiries(state, current, swept_until_ms_, sweep_to_ms_);
  });
  if (step == WalkStep::kRestart) {
    // Cannot happen while the room holds; if it does, subjects already
    // visited are visited again: their alerts repeat, with the same ids.
    spdlog::warn("worker {}: the expiry sweep restarted (table re-indexed under it)", id_);
  }
  if (step == WalkStep::kDone) {
    swept_until_ms_ = sweep_to_ms_;
    sweeping_ = false;
  }
  busy_ns_ += steady_now_ns() - start;
}

std::size_t ShardWorker::max_inserts_per_pass() const noexcept {
  // drain() takes at most a queue's worth (plus the chunk it was in) per row.
  return (kWorkQueueCapacity + kChunkItems) * queues_.producers();
}

void ShardWorker::finish_sweep() {
  while (sweeping_) sweep_step(std::numeric_limits<std::size_t>::max());
}

void ShardWorker::alert_expiries(const SubjectState& state, const RuleSet& rules,
                                 std::int64_t after_ms, std::int64_t until_ms) {
  tier_changes_finder_.find(table_, state, rules, after_ms, until_ms,
                            TierChangeFinder::Causes::kExpiriesOnly, [&](const TierChange& change) {
                              ++expiry_alerts_;
                              publish_alert(SubjectTable::subject_of(state), change.cause_id,
                                            change.from, change.to, change.score, change.time_ms,
                                            /*by_expiry=*/true);
                            });
}

void ShardWorker::publish_alert(std::string_view subject, std::string_view cause_id,
                                std::string_view from, std::string_view to, std::int64_t score,
                                std::int64_t time_ms, bool by_expiry) {
  // Debian's abseil is built with its own string_view type; convert for the
  // heterogeneous lookup.
  auto it = tier_changes_.find(absl::string_view(to.data(), to.size()));
  if (it == tier_changes_.end()) it = tier_changes_.emplace(std::string(to), 0).first;
  ++it->second;
  Alert alert;
  alert.subject.assign(subject);
  alert.event_id.assign(cause_id);
  alert.from = from;
  alert.to = to;
  alert.score = score;
  alert.time_ms = time_ms;
  alert.by_expiry = by_expiry;
  if (journal_ == nullptr) {
    queue_alert(alert);
    return;
  }
  storage::journal::Record record;
  record.time_ms = time_ms;
  record.score = score;
  record.by_expiry = by_expiry;
  record.id = alert.event_id.view();
  record.subject = alert.subject.view();
  record.tier_from = from;
  record.tier_to = to;
  journal_->append_alert(record);
  alert.origin = record.origin;
  staged_alerts_.push_back(alert);
}

void ShardWorker::queue_staged_alerts() {
  for (const Alert& alert : staged_alerts_) queue_alert(alert);
  staged_alerts_.clear();
}

void ShardWorker::queue_alert(const Alert& alert) {
  // The control thread drains alerts continuously (also while it waits on a
  // command), so waiting here cannot deadlock; it never drops an alert.
  Backoff backoff;
  while (!alerts_.push(alert)) backoff.pause();
  alerts_queued_.store(alerts_queued_.load(std::memory_order_relaxed) + 1,
                       std::memory_order_release);
}

void ShardWorker::maybe_purge(std::int64_t wall_ms) {
  // A purge would erase under the sweep's walk: it waits for the walk's end.
  if (sweeping_ || wall_ms - last_purge_ms_ < options_.purge_interval_ms) return;
  last_purge_ms_ = wall_ms;
  const RuleSet& current = rules();
  const std::int64_t start = steady_now_ns();
  purged_subjects_ += table_.purge(now_ms(), current.score().retain_ms);
  busy_ns_ += steady_now_ns() - start;
}

ShardStats ShardWorker::stats() const {
  ShardStats stats;
  stats.worker = id_;
  stats.applied = applied_;
  stats.accepted = accepted_;
  stats.duplicates = duplicates_;
  stats.revokes = revokes_;
  stats.subjects = table_.subjects();
  stats.key_groups = static_cast<std::uint32_t>(held_.count());
  stats.held_back_events = held_back_.size();
  stats.memory_bytes = table_.memory_bytes();
  stats.queue_depth = queues_.depth(id_);
  stats.purged_subjects = purged_subjects_;
  stats.busy_seconds = static_cast<double>(busy_ns_) * 1e-9;
  stats.recovered = recovered_;
  stats.expiry_alerts = expiry_alerts_;
  stats.expiry_swept_until_ms = swept_until_ms_;
  if (journal_ != nullptr) {
    const storage::JournalCounters& journal = journal_->counters();
    stats.journal_records = journal.records;
    stats.journal_bytes = journal.bytes_written;
    stats.journal_syncs = journal.syncs;
    stats.journal_errors = journal.errors;
    stats.journal_pending_bytes = journal_->pending_bytes();
  }
  for (const auto& [rule, count] : hits_) stats.hits_by_type.emplace_back(rule->name, count);
  for (const auto& [tier, count] : tier_changes_) stats.tier_changes.emplace_back(tier, count);
  stats.latency = latency_;
  return stats;
}

}  // namespace tally::scorer
