// ShardWorker: applied directly (outcomes, counters, tier-change alerts), and
// run on a real thread fed through its queues (events, commands on the
// worker's thread, batch tickets released after their commit, purge and the
// expiry sweep). The "now" of these rules is the event clock, which the test
// sets, so every time-driven step is reached by a condition, never a sleep.
#include "scorer/shard_worker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "core/key_groups.h"
#include "core/work_queue.h"
#include "scorer/engine.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"
#include "tests/support/files.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;

// fine: 4 points for 10 s; minor: 2 for 20 s; watch from 6 points.
constexpr const char* kRules = R"(
[score]
clock = "event"
retain = "1s"
[rules.fine]
points = 4
expires_after = "10s"
[rules.minor]
points = 2
expires_after = "20s"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "watch"
min = 6
)";

constexpr auto kDeadline = std::chrono::seconds(60);

// Runs a function on the worker's thread and keeps what it saw.
class FunctionCommand final : public ShardCommand {
 public:
  explicit FunctionCommand(std::function<void(ShardWorker&)> body) : body_(std::move(body)) {}
  void run(ShardWorker& worker) override {
    thread = std::this_thread::get_id();
    body_(worker);
  }
  std::thread::id thread;

 private:
  std::function<void(ShardWorker&)> body_;
};

class ShardWorkerTest : public ::testing::Test {
 protected:
  ~ShardWorkerTest() override { stop(); }

  void make_worker() { make_worker(WorkerOptions()); }
  void make_worker(const WorkerOptions& options) {
    worker_ =
        std::make_unique<ShardWorker>(0, options, ShardContext{&current_, &clock_, &interns_},
                                      queues_, done_tickets_, std::bitset<kKeyGroups>().set());
  }
  void start() {
    thread_ = std::thread([this] { worker_->run(stop_); });
  }
  void stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
  }

  Event event(std::string_view id, std::string_view type, std::int64_t time_ms,
              std::string_view revokes = "", std::string_view subject = "plate:NY:W1") {
    Event out;
    out.id.assign(id);
    out.subject.assign(subject);
    out.revokes.assign(revokes);
    out.source.assign("cam-7");
    out.type = rules_->resolve(type);
    EXPECT_NE(out.type, nullptr) << type;
    out.time_ms = time_ms;
    out.subject_hash = stable_hash64(subject);
    return out;
  }

  // As the ingest thread does: row 0, the event clock moved first.
  void send(const Event& e, BatchTicket* ticket = nullptr) {
    std::int64_t seen = clock_.load();
    while (seen < e.time_ms && !clock_.compare_exchange_weak(seen, e.time_ms)) {
    }
    WorkItem item;
    item.event = e;
    item.ticket = ticket;
    push(QueueRow::kIngest, item);
  }
  void push(QueueRow row, const WorkItem& item) {
    ASSERT_TRUE(push_blocking(queues_.at(static_cast<std::uint32_t>(row), 0), &item, 1, [&] {
      return std::chrono::steady_clock::now() > started_ + kDeadline;
    }));
  }
  // Runs `body` on the worker through row `row` and waits for it.
  std::thread::id run_on_worker(QueueRow row, std::function<void(ShardWorker&)> body) {
    FunctionCommand command(std::move(body));
    WorkItem item;
    item.kind = WorkKind::kCommand;
    item.command = &command;
    push(row, item);
    EXPECT_TRUE(wait_until([&] { return command.done(); })) << "the command never ran";
    return command.thread;
  }
  // Marks the end of `ticket`'s events and waits for the worker to hand the
  // ticket back (nullptr: it never did).
  BatchTicket* end_batch(BatchTicket& ticket) {
    WorkItem end;
    end.kind = WorkKind::kBatchEnd;
    end.ticket = &ticket;
    push(QueueRow::kIngest, end);
    BatchTicket* done = nullptr;
    EXPECT_TRUE(wait_until([&] { return done_tickets_.pop(done); })) << "no ticket came back";
    return done;
  }
  ShardStats stats() {
    ShardStats out;
    run_on_worker(QueueRow::kControl, [&](ShardWorker& worker) { out = worker.stats(); });
    return out;
  }
  static bool wait_until(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  std::optional<Alert> next_alert() {
    Alert alert;
    if (!wait_until([&] { return worker_->alerts().pop(alert); })) return std::nullopt;
    return alert;
  }

  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::shared_ptr<const RuleSet> rules_ = parse_rules(kRules, "shard_worker_test.toml", 1).value();
  std::atomic<const RuleSet*> current_{rules_.get()};
  std::atomic<std::int64_t> clock_{0};
  InternTable interns_;
  QueueMatrix queues_{kQueueRows, 1};
  TicketQueue done_tickets_;
  std::unique_ptr<ShardWorker> worker_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  tally::testing::TempDir scratch_{"shard-worker"};
  fs::path dir_;  // the journal's, when a test has one
};

TEST_F(ShardWorkerTest, AppliesEventsAndCountsWhatTheyDid) {
  make_worker();
  EXPECT_EQ(worker_->apply(event("f1", "fine", 1000), 1000), ApplyOutcome::kAccepted);
  EXPECT_EQ(worker_->apply(event("f1", "fine", 1000), 1000), ApplyOutcome::kDuplicate);
  EXPECT_EQ(worker_->apply(event("f2", "fine", 2000, "", "plate:NY:W2"), 2000),
            ApplyOutcome::kAccepted);
  EXPECT_EQ(worker_->apply(event("r1", "revoke", 3000, "f1"), 3000), ApplyOutcome::kAccepted);

  const SubjectTable& table = worker_->table();
  ASSERT_NE(table.find("plate:NY:W1"), nullptr);
  EXPECT_EQ(table.score_at(*table.find("plate:NY:W1"), 3000).raw, 0);  // f1 revoked
  EXPECT_EQ(table.score_at(*table.find("plate:NY:W2"), 3000).raw, 4);
  const ShardStats counted = worker_->stats();
  EXPECT_EQ(counted.applied, 4u);
  EXPECT_EQ(counted.accepted, 3u);
  EXPECT_EQ(counted.duplicates, 1u);
  EXPECT_EQ(counted.revokes, 1u);
  EXPECT_EQ(counted.subjects, 2u);
  EXPECT_EQ(counted.hits_by_type.size(), 2u);  // fine and revoke
}

TEST_F(ShardWorkerTest, AlertsWhenAnEventMovesItsSubjectToAnotherTier) {
  make_worker();
  Alert alert;
  worker_->apply(event("f1", "fine", 1000), 1000);  // 4: clear, as before
  EXPECT_FALSE(worker_->alerts().pop(alert));
  worker_->apply(event("m1", "minor", 2000), 2500);  // 6: watch
  ASSERT_TRUE(worker_->alerts().pop(alert));
  EXPECT_EQ(alert.subject.view(), "plate:NY:W1");
  EXPECT_EQ(alert.event_id.view(), "m1");
  EXPECT_EQ(alert.from, "clear");
  EXPECT_EQ(alert.to, "watch");
  EXPECT_EQ(alert.score, 6);
  EXPECT_EQ(alert.time_ms, 2500);  // "now" when it was applied
  EXPECT_FALSE(alert.by_expiry);
  worker_->apply(event("m1", "minor", 2000), 2600);  // a duplicate changes nothing
  EXPECT_FALSE(worker_->alerts().pop(alert));
  worker_->apply(event("r1", "revoke", 3000, "f1"), 3000);  // 2: back to clear
  ASSERT_TRUE(worker_->alerts().pop(alert));
  EXPECT_EQ(alert.event_id.view(), "r1");
  EXPECT_EQ(alert.from, "watch");
  EXPECT_EQ(alert.to, "clear");
  EXPECT_EQ(alert.score, 2);
  EXPECT_EQ(worker_->stats().tier_changes.size(), 2u);  // into watch, into clear
}

TEST_F(ShardWorkerTest, AppliesWhatItsQueuesBringAndRunsCommandsOnItsOwnThread) {
  make_worker();
  start();
  send(event("f1", "fine", 1000));
  send(event("m1", "minor", 2000));
  send(event("m1", "minor", 2000));
  // A command queued behind the events on the same row sees them applied.
  std::int64_t score = -1;
  const std::thread::id ran_on = run_on_worker(QueueRow::kIngest, [&](ShardWorker& worker) {
    const SubjectState* state = worker.table().find("plate:NY:W1");
    score = state == nullptr ? -1 : worker.table().score_at(*state, worker.now_ms()).raw;
  });
  EXPECT_EQ(score, 6);
  EXPECT_EQ(ran_on, thread_.get_id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
  const std::optional<Alert> alert = next_alert();
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->to, "watch");
  EXPECT_EQ(alert->time_ms, 2000);  // the event clock
  const ShardStats counted = stats();
  EXPECT_EQ(counted.accepted, 2u);
  EXPECT_EQ(counted.duplicates, 1u);
  EXPECT_EQ(counted.latency.total(), 3u);
}

TEST_F(ShardWorkerTest, ABatchTicketGoesBackWithItsCountsOnceTheWorkerHasItsEvents) {
  make_worker();
  start();
  BatchTicket ticket;
  ticket.pending_workers = 1;
  send(event("f1", "fine", 1000), &ticket);
  send(event("f2", "fine", 1500), &ticket);
  send(event("f1", "fine", 1000), &ticket);
  BatchTicket* done = end_batch(ticket);
  EXPECT_EQ(done, &ticket);
  EXPECT_EQ(ticket.pending_workers.load(), 0u);
  EXPECT_EQ(ticket.accepted.load(), 2u);
  EXPECT_EQ(ticket.duplicates.load(), 1u);
}

TEST_F(ShardWorkerTest, WithAJournalABatchTicketWaitsForTheCommitOfItsEvents) {
  dir_ = scratch_.path();
  WorkerOptions options;
  options.journal.enabled = true;
  options.journal.dir = dir_.string();
  make_worker(options);
  // Before start(), this thread stands in for the worker's.
  ASSERT_TRUE(worker_->open_journal(1).is_ok());
  start();
  BatchTicket ticket;
  ticket.pending_workers = 1;
  for (int i = 0; i < 5; ++i) send(event(fmt::format("e{}", i), "fine", 1000 + i), &ticket);
  send(event("e0", "fine", 1000), &ticket);  // a duplicate is not journaled
  BatchTicket* done = end_batch(ticket);
  ASSERT_EQ(done, &ticket);
  // By the time the ticket is back, its events are in the journal.
  EXPECT_EQ(worker_->journaled_records(), 5u);
  EXPECT_EQ(ticket.accepted.load(), 5u);
  EXPECT_EQ(ticket.duplicates.load(), 1u);
  stop();
  std::uintmax_t journal_bytes = 0;
  for (const auto& file : fs::directory_iterator(dir_)) {
    if (file.path().extension() == ".tj") journal_bytes += file.file_size();
  }
  EXPECT_GT(journal_bytes, 0u);
  EXPECT_EQ(worker_->stats().journal_records, 5u);
}

TEST_F(ShardWorkerTest, PurgeDropsWhatIsPastRetention) {
  WorkerOptions options;
  options.purge_interval_ms = 0;  // every pass
  make_worker(options);
  start();
  send(event("f1", "fine", 1000));  // expires at 11000; retained until 12000
  send(event("c1", "fine", 5000, "", "plate:NY:W2"));
  ASSERT_EQ(stats().subjects, 2u);
  clock_.store(11999);
  EXPECT_EQ(stats().purged_subjects, 0u);
  clock_.store(12000);
  ASSERT_TRUE(wait_until([&] { return stats().purged_subjects == 1; }));
  const ShardStats after = stats();
  EXPECT_EQ(after.subjects, 1u);
  run_on_worker(QueueRow::kControl, [](ShardWorker& worker) {
    EXPECT_EQ(worker.table().find("plate:NY:W1"), nullptr);
    EXPECT_NE(worker.table().find("plate:NY:W2"), nullptr);
  });
}

TEST_F(ShardWorkerTest, TheExpirySweepAlertsATierChangeThatTimeCaused) {
  WorkerOptions options;
  options.expiry_sweep_interval_ms = 1;
  make_worker(options);
  start();
  send(event("f1", "fine", 1000));   // 4 during [1000, 11000)
  send(event("m1", "minor", 3000));  // 6 from 3000: watch
  const std::optional<Alert> by_event = next_alert();
  ASSERT_TRUE(by_event.has_value());
  EXPECT_FALSE(by_event->by_expiry);
  // The first sweep only marks where the next one starts: wait for it.
  ASSERT_TRUE(wait_until([&] { return stats().expiry_swept_until_ms == 3000; }));
  clock_.store(20000);  // f1 expired at 11000: 2, clear; no event says so
  const std::optional<Alert> by_expiry = next_alert();
  ASSERT_TRUE(by_expiry.has_value());
  EXPECT_TRUE(by_expiry->by_expiry);
  EXPECT_EQ(by_expiry->event_id.view(), "f1");
  EXPECT_EQ(by_expiry->from, "watch");
  EXPECT_EQ(by_expiry->to, "clear");
  EXPECT_EQ(by_expiry->score, 2);
  EXPECT_EQ(by_expiry->time_ms, 11000);  // the expiry instant, not the sweep's
  ASSERT_TRUE(wait_until([&] { return stats().expiry_swept_until_ms == 20000; }));
  const ShardStats counted = stats();
  EXPECT_EQ(counted.expiry_alerts, 1u);
  Alert more;
  EXPECT_FALSE(worker_->alerts().pop(more));  // each change is alerted once
}

// The sweep walks the table a slice per pass while events keep arriving. New
// subjects grow the table under the walk; were it re-indexed there, the walk
// would start again and alert twice on the subjects it had visited. With a
// slice of one subject, the walk lasts thousands of passes, and the events
// sent meanwhile are more than the room the sweep made for them.
TEST_F(ShardWorkerTest, ASlicedSweepAlertsEachExpiryOnceWhileTheTableGrowsUnderIt) {
  WorkerOptions options;
  options.expiry_sweep_interval_ms = 1;
  options.sweep_slice_subjects = 1;
  make_worker(options);
  start();
  constexpr int kWatched = 2000;
  for (int i = 0; i < kWatched; ++i) {
    const std::string subject = fmt::format("plate:NY:S{}", i);
    send(event(fmt::format("f{}", i), "fine", 1000, "", subject));
    send(event(fmt::format("m{}", i), "minor", 3000, "", subject));  // 6: watch
  }
  int by_event = 0;
  Alert alert;
  ASSERT_TRUE(wait_until([&] {
    while (worker_->alerts().pop(alert)) by_event += alert.by_expiry ? 0 : 1;
    return by_event == kWatched;
  }));
  ASSERT_TRUE(wait_until([&] { return stats().expiry_swept_until_ms == 3000; }));
  clock_.store(20000);  // every fine expired at 11000: each subject is back to clear
  std::set<std::string> expired;
  int by_expiry = 0;
  const auto take_alerts = [&] {
    while (worker_->alerts().pop(alert)) {
      EXPECT_TRUE(alert.by_expiry);
      ++by_expiry;
      expired.insert(std::string(alert.subject.view()));
    }
  };
  for (int i = 0; i < 240'000; ++i) {  // new subjects, 2 points each: no alert
    send(event(fmt::format("n{}", i), "minor", 20000, "", fmt::format("plate:NY:N{}", i)));
    if (i % 1000 == 0) take_alerts();
  }
  ASSERT_TRUE(wait_until([&] { return stats().expiry_swept_until_ms == 20000; }));
  take_alerts();
  EXPECT_EQ(by_expiry, kWatched);
  EXPECT_EQ(expired.size(), static_cast<std::size_t>(kWatched));
  EXPECT_EQ(stats().subjects, static_cast<std::size_t>(kWatched + 240'000));
}

}  // namespace
}  // namespace tally::scorer
