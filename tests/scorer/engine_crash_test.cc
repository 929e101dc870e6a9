// The engine on a fault-injecting file system, crashed again and again: what
// it acknowledged survives a power cut, and what it did not is made whole by
// the client's resend, each event counted once.
//
// The test plays the ingest thread: it routes acknowledged batches into the
// workers with a BatchTicket each, as stream/ingest_server.cc does, and takes
// a batch as acknowledged when its ticket comes back (the workers hand it
// back only after the journal commit that covers its events). Each round
// starts a fresh engine (1 to 3 workers) on what the last crash left,
// recovers it, and checks that every acknowledged event is there; resends
// everything unacknowledged and checks every subject exactly; then sends new
// batches (sometimes with a snapshot running) while the power goes after a
// seeded number of file operations. The crash keeps only what was synced
// (storage/fault_injection_env.h says what that means).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "core/backoff.h"
#include "core/key_groups.h"
#include "core/work_queue.h"
#include "scorer/engine.h"
#include "storage/fault_injection_env.h"
#include "tests/support/files.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;

// Wall clock, nothing expires, no clamp: a score is the plain sum of points.
constexpr const char* kRules = R"(
[rules.minor]
points = 1
[rules.fine]
points = 3
[rules.major]
points = 7
)";

constexpr int kRounds = 80;
constexpr std::uint32_t kSeed = 20250611;
// Operations (see FaultInjectionEnv::cut_power_after) a round may get before
// the power goes. A round's traffic takes 2 to 40 (an append and a sync per
// worker and commit, a dozen more with a snapshot), so some rounds are cut
// early, some late, some only after everything was answered.
constexpr std::uint64_t kMaxOperationsBeforeCut = 24;
constexpr auto kAnswerDeadline = std::chrono::seconds(20);
// Events are from 2025; nothing expires, so a score at any later time is the sum.
constexpr std::int64_t kLongAfter = 4'000'000'000'000;

struct PlannedEvent {
  std::string id;
  std::string subject;
  std::string type;
  std::string revokes;  // for a revoke: the id it cancels (same subject)
  std::int32_t points = 0;
};
using Batch = std::vector<PlannedEvent>;

// Seeded batches of fines over a few subjects, with now and then a revoke of
// an earlier event of the same subject.
std::vector<Batch> plan_batches(std::mt19937& random, std::size_t count) {
  static constexpr std::pair<const char*, std::int32_t> kTypes[] = {
      {"minor", 1}, {"fine", 3}, {"major", 7}};
  std::vector<Batch> batches(count);
  std::vector<const PlannedEvent*> revocable;
  for (std::size_t b = 0; b < count; ++b) {
    const std::size_t events = 1 + random() % 8;
    for (std::size_t i = 0; i < events; ++i) {
      PlannedEvent event;
      event.id = fmt::format("b{}-{}", b, i);
      if (!revocable.empty() && random() % 6 == 0) {
        const std::size_t pick = random() % revocable.size();
        event.subject = revocable[pick]->subject;
        event.type = "revoke";
        event.revokes = revocable[pick]->id;
        event.id = "rv-" + event.id;
        revocable.erase(revocable.begin() + static_cast<std::ptrdiff_t>(pick));
      } else {
        const auto& [type, points] = kTypes[random() % 3];
        event.subject = fmt::format("p{}", random() % 25);
        event.type = type;
        event.points = points;
      }
      batches[b].push_back(std::move(event));
    }
    // Revocable only from the next batch on: a batch is applied in order,
    // but the test's checks treat events of one batch as a set.
    for (const PlannedEvent& event : batches[b]) {
      if (event.type != "revoke") revocable.push_back(&event);
    }
  }
  return batches;
}

// One subject's state: every contribution (id -> revoked) and the score.
struct SubjectView {
  std::map<std::string, bool> contributions;
  std::int64_t score = 0;
  bool operator==(const SubjectView&) const = default;
};
using StateView = std::map<std::string, SubjectView>;

// What the batches marked in `included` add up to.
StateView expected_state(const std::vector<Batch>& batches, const std::vector<bool>& included) {
  std::map<std::string, std::string> revoked;  // target -> subject
  for (std::size_t b = 0; b < batches.size(); ++b) {
    if (!included[b]) continue;
    for (const PlannedEvent& event : batches[b]) {
      if (event.type == "revoke") revoked.emplace(event.revokes, event.subject);
    }
  }
  StateView state;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    if (!included[b]) continue;
    for (const PlannedEvent& event : batches[b]) {
      if (event.type == "revoke") continue;
      SubjectView& subject = state[event.subject];
      const bool is_revoked = revoked.count(event.id) > 0;
      subject.contributions[event.id] = is_revoked;
      if (!is_revoked) subject.score += event.points;
    }
  }
  return state;
}

// Reads a worker's whole table on its own thread.
class ReadTableCommand final : public ShardCommand {
 public:
  void run(ShardWorker& worker) override {
    const SubjectTable& table = worker.table();
    table.for_each_subject([&](const SubjectState& state) {
      SubjectView view;
      view.score = table.score_at(state, kLongAfter).raw;
      table.for_each_contribution(state, [&](const ContributionView& contribution) {
        view.contributions[std::string(contribution.id)] = contribution.revoked;
      });
      // A subject holding only a pending revoke has nothing to compare.
      if (!view.contributions.empty()) seen.emplace(SubjectTable::subject_of(state), view);
    });
  }
  StateView seen;
};

class EngineCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "data");
    rules_path_ = (dir_ / "rules.toml").string();
    std::FILE* file = std::fopen(rules_path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs(kRules, file);
    std::fclose(file);
  }
  void TearDown() override {
    if (snapshot_thread_.joinable()) snapshot_thread_.join();
    engine_.reset();
  }

  void start_engine(std::uint32_t workers) {
    ScorerOptions options;
    options.workers = workers;
    options.rules_path = rules_path_;
    options.worker.journal.enabled = true;
    options.worker.journal.dir = (dir_ / "data").string();
    options.worker.journal.fsync = storage::FsyncMode::kBatch;
    options.worker.journal.segment_bytes = 2048;  // rotations too
    options.worker.env = &env_;
    auto rules = load_rules_file(rules_path_, 1);
    ASSERT_TRUE(rules) << rules.status().to_string();
    engine_ = std::make_unique<Engine>(options, *rules);
    engine_->start();
    const auto recovered = engine_->recover();
    ASSERT_TRUE(recovered.is_ok()) << recovered.status().to_string();
  }

  // Routes batch `b` into the workers as the ingest thread does.
  void submit(std::size_t b) {
    auto ticket = std::make_unique<BatchTicket>();
    ticket->batch_id = std::to_string(b);
    std::vector<bool> touched(engine_->workers());
    const EventTypeResolver& types = *engine_->types().load();
    for (const PlannedEvent& planned : batches_[b]) {
      WorkItem item;
      item.ticket = ticket.get();
      Event& event = item.event;
      event.id.assign(planned.id);
      event.subject.assign(planned.subject);
      event.source.assign("cam");
      event.revokes.assign(planned.revokes);
      event.type = types.resolve(planned.type);
      ASSERT_NE(event.type, nullptr) << planned.type;
      event.time_ms = 1'750'000'000'000 + static_cast<std::int64_t>(b) * 1000;
      event.subject_hash = stable_hash64(planned.subject);
      const std::uint32_t worker = engine_->groups().worker_of(event.subject_hash);
      push(worker, item);
      touched[worker] = true;
    }
    ticket->pending_workers.store(
        static_cast<std::uint32_t>(std::count(touched.begin(), touched.end(), true)));
    WorkItem end;
    end.kind = WorkKind::kBatchEnd;
    end.ticket = ticket.get();
    for (std::uint32_t worker = 0; worker < touched.size(); ++worker) {
      if (touched[worker]) push(worker, end);
    }
    in_flight_.emplace(ticket.get(), b);
    tickets_.push_back(std::move(ticket));
    sent_[b] = true;
  }

  void push(std::uint32_t worker, const WorkItem& item) {
    push_blocking(engine_->queues().at(static_cast<std::uint32_t>(QueueRow::kIngest), worker),
                  &item, 1, [this] {
                    collect_answers();
                    return false;
                  });
  }

  // Takes the tickets the workers handed back. A batch counts as
  // acknowledged only if the power was still on after its ticket was seen:
  // then the sync its answer waited for happened before any cut. (A ticket
  // seen later may have waited on a sync the cut swallowed; its client
  // would not have got the answer either.)
  void collect_answers() {
    std::vector<BatchTicket*> answered;
    for (TicketQueue* queue : engine_->done_ticket_queues()) {
      queue->consume_all([&answered](BatchTicket* ticket) { answered.push_back(ticket); });
    }
    if (answered.empty()) return;
    const bool power_on = !env_.power_is_cut();
    for (BatchTicket* ticket : answered) {
      const std::size_t b = in_flight_.at(ticket);
      in_flight_.erase(ticket);
      if (power_on) acked_[b] = true;
    }
  }

  // Until every batch in flight is answered, or the power is cut.
  void wait_for_answers() {
    const auto deadline = std::chrono::steady_clock::now() + kAnswerDeadline;
    Backoff backoff;
    while (!in_flight_.empty() && !env_.power_is_cut()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << in_flight_.size() << " batches unanswered with the power on";
      collect_answers();
      backoff.pause();
    }
  }

  // Cuts the power (if the seeded point did not come), stops the engine and
  // leaves the disk as the cut would.
  void crash() {
    if (!env_.power_is_cut()) env_.cut_power();
    if (snapshot_thread_.joinable()) snapshot_thread_.join();
    collect_answers();
    engine_->stop();
    collect_answers();
    engine_.reset();
    in_flight_.clear();
    tickets_.clear();
    ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  }

  StateView observe() {
    std::deque<ReadTableCommand> commands;  // not movable: they hold atomics
    engine_->run_on_all(QueueRow::kControl,
                        [&](std::uint32_t) { return &commands.emplace_back(); });
    StateView state;
    for (auto& command : commands) state.merge(command.seen);
    return state;
  }

  // After recovery: every acknowledged event is there (revoked if an
  // acknowledged revoke names it), and nothing that was never sent.
  void expect_acknowledged_events_survived() {
    const StateView seen = observe();
    const StateView sent = expected_state(batches_, sent_);
    const StateView acked = expected_state(batches_, acked_);
    for (const auto& [subject, view] : acked) {
      const auto found = seen.find(subject);
      ASSERT_NE(found, seen.end()) << subject << " lost";
      for (const auto& [id, revoked] : view.contributions) {
        const auto contribution = found->second.contributions.find(id);
        ASSERT_NE(contribution, found->second.contributions.end())
            << "acknowledged " << id << " lost";
        if (revoked) {
          EXPECT_TRUE(contribution->second) << "acknowledged revoke of " << id << " lost";
        }
      }
    }
    for (const auto& [subject, view] : seen) {
      const auto planned = sent.find(subject);
      ASSERT_NE(planned, sent.end()) << subject << " was never sent";
      for (const auto& [id, revoked] : view.contributions) {
        const auto contribution = planned->second.contributions.find(id);
        ASSERT_NE(contribution, planned->second.contributions.end()) << id << " was never sent";
        if (revoked) {
          EXPECT_TRUE(contribution->second) << id << " revoked by nothing sent";
        }
      }
    }
  }

  tally::testing::TempDir scratch_{"engine-crash"};
  fs::path dir_ = scratch_.path();
  std::string rules_path_;
  storage::FaultInjectionEnv env_{storage::Env::posix()};
  std::unique_ptr<Engine> engine_;
  std::thread snapshot_thread_;
  std::vector<Batch> batches_;
  std::vector<bool> sent_;
  std::vector<bool> acked_;
  std::map<BatchTicket*, std::size_t> in_flight_;
  std::vector<std::unique_ptr<BatchTicket>> tickets_;
};

TEST_F(EngineCrashTest, AcknowledgedBatchesSurvivePowerCutsAndResentOnesCountOnce) {
  std::mt19937 random(kSeed);
  batches_ = plan_batches(random, kRounds * 6);
  sent_.assign(batches_.size(), false);
  acked_.assign(batches_.size(), false);
  std::size_t next = 0;
  std::size_t cut_in_traffic = 0;
  for (int round = 0; round <= kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {} (seed {})", round, kSeed));
    ASSERT_NO_FATAL_FAILURE(start_engine(static_cast<std::uint32_t>(1 + random() % 3)));
    ASSERT_NO_FATAL_FAILURE(expect_acknowledged_events_survived());

    // The clients resend what they heard no answer for; with the power on,
    // every batch is answered and each subject holds exactly what was sent.
    for (std::size_t b = 0; b < next; ++b) {
      if (!acked_[b]) submit(b);
    }
    ASSERT_NO_FATAL_FAILURE(wait_for_answers());
    ASSERT_TRUE(in_flight_.empty());
    EXPECT_EQ(observe(), expected_state(batches_, sent_));
    if (round == kRounds) break;

    // New traffic, and somewhere in it the power goes. Half the batches wait
    // for their answer before the next is sent (a commit each), the others
    // are pipelined (group commits).
    env_.cut_power_after(random() % kMaxOperationsBeforeCut);
    const std::size_t batches = 1 + random() % 6;
    const bool with_snapshot = random() % 3 == 0;
    for (std::size_t i = 0; i < batches && next < batches_.size() && !env_.power_is_cut(); ++i) {
      submit(next++);
      if (with_snapshot && i == batches / 2) {
        snapshot_thread_ = std::thread([this] { (void)engine_->snapshot(); });
      }
      if (random() % 2 == 0) {
        ASSERT_NO_FATAL_FAILURE(wait_for_answers());
      }
    }
    ASSERT_NO_FATAL_FAILURE(wait_for_answers());
    if (env_.power_is_cut()) ++cut_in_traffic;
    ASSERT_NO_FATAL_FAILURE(crash());
  }
  // The seeded points must have hit the traffic, not only the quiet after it.
  EXPECT_GT(cut_in_traffic, static_cast<std::size_t>(kRounds / 4));
  EXPECT_TRUE(std::all_of(acked_.begin(), acked_.begin() + static_cast<std::ptrdiff_t>(next),
                          [](bool acked) { return acked; }));
}

}  // namespace
}  // namespace tally::scorer
