// Live worker-count changes on the real daemon: a sequence of changes under
// an acknowledged load with resends keeps every score exact and never holds
// an acknowledgement back for a second; `tally workers`, stats and /metrics
// report it; a SIGKILL right after, or in the middle of a change, recovers
// every score with another --workers; out-of-range changes are refused with
// the reason; the autoscaler grows a saturated single worker.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "api/answers.h"
#include "tests/support/acknowledged_sender.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/json.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Plain sums (kPlainSumRules): losing an event or counting one twice shows.
using Workload = PlainSumWorkload;

Workload make_workload(int batches, int per_batch, int subjects, std::uint32_t seed) {
  return make_plain_sum_workload(batches, per_batch, subjects, seed, "R");
}

class RescaleTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(rules_, kPlainSumRules); }

  std::unique_ptr<DaemonProcess> start(std::vector<std::string> args) {
    return std::make_unique<DaemonProcess>(rules_, data_, std::move(args));
  }

  static void expect_scores(DaemonProcess& daemon, const Workload& workload, const char* when) {
    for (const auto& [subject, score] : workload.expected) {
      ASSERT_EQ(score_of(daemon, subject), score) << subject << " " << when;
    }
  }

  // `tally workers N`, to its end.
  static ProgramResult change_workers(DaemonProcess& daemon, int workers) {
    return run_program(
        {tally_path(), "--query", daemon.query(), "workers", std::to_string(workers)},
        std::chrono::minutes(2));
  }

  simdjson::dom::element workers_answer(DaemonProcess& daemon) {
    answer_ = daemon.ask(R"({"op":"workers"})");
    return parse_json(parser_, answer_);
  }

  TempDir dir_{"rescale"};
  fs::path rules_ = dir_ / "rules.toml";
  fs::path data_ = dir_ / "data";
  simdjson::dom::parser parser_;
  std::string answer_;
};

TEST_F(RescaleTest, ChangesUnderAcknowledgedLoadKeepEveryScoreExactAndSurviveAKill) {
  const auto seed = std::random_device()();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  const Workload workload = make_workload(/*batches=*/600, /*per_batch=*/100,
                                          /*subjects=*/5000, seed);
  auto daemon = start({"--workers", "2"});
  zmq::context_t context(1);
  AcknowledgedSender sender(context, daemon->submit(), std::chrono::seconds(5));

  // 2 -> 4 -> 1 -> 3 -> 2, each once a further sixth of the load is answered.
  const std::vector<int> sequence = {4, 1, 3, 2};
  std::atomic<std::size_t> answered_count{0};
  std::atomic<bool> changing{false};
  std::vector<ProgramResult> changes;
  std::jthread changer([&] {
    for (std::size_t i = 0; i < sequence.size(); ++i) {
      const std::size_t wait_for = (i + 1) * workload.batches.size() / 6;
      if (!eventually([&] { return answered_count.load() >= wait_for; }, std::chrono::minutes(2))) {
        return;
      }
      changing.store(true);
      changes.push_back(change_workers(*daemon, sequence[i]));
      changing.store(false);
    }
  });

  constexpr std::size_t kWindow = 16;
  std::set<std::size_t> answered;
  std::size_t next = 0;
  std::mt19937 random(seed);
  Clock::duration longest_gap{};
  Clock::time_point last_answer = Clock::now();
  const auto deadline = Clock::now() + std::chrono::minutes(4);
  while (answered.size() < workload.batches.size()) {
    while (sender.in_flight() < kWindow && next < workload.batches.size()) {
      std::size_t batch = next++;
      if (!answered.empty() && random() % 10 == 0) {  // a client that missed an answer
        batch = *std::next(answered.begin(), random() % answered.size());
        --next;
      }
      sender.send(fmt::format("batch-{}", batch), workload.batches[batch]);
    }
    const auto answer = sender.next_answer(deadline);
    ASSERT_TRUE(answer.has_value()) << "no progress: " << answered.size() << " of "
                                    << workload.batches.size() << " batches answered";
    const auto now = Clock::now();
    if (changing.load()) longest_gap = std::max(longest_gap, now - last_answer);
    last_answer = now;
    EXPECT_EQ(parse_json(parser_, answer->body)["rejected"].get_array().size(), 0u);
    answered.insert(std::stoul(answer->batch_id.substr(6)));
    answered_count.store(answered.size());
  }
  changer.join();
  ASSERT_EQ(changes.size(), sequence.size());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].exit_code, 0) << changes[i].output;
    EXPECT_NE(changes[i].output.find(fmt::format("-> {} workers in", sequence[i])),
              std::string::npos)
        << changes[i].output;
    EXPECT_NE(changes[i].output.find("the longest pause of any group was"), std::string::npos)
        << changes[i].output;
  }
  EXPECT_LT(std::chrono::duration<double>(longest_gap).count(), 1.0)
      << "an acknowledgement waited that long during a change";

  expect_scores(*daemon, workload, "after the changes");
  const auto stats = api::parse_answer<api::StatsAnswer>(daemon->ask(R"({"op":"stats"})"));
  ASSERT_TRUE(stats) << stats.status().to_string();
  EXPECT_EQ(stats->accepted, workload.events);  // each event once, resends as duplicates
  EXPECT_EQ(stats->workers.size(), 2u);

  simdjson::dom::element workers = workers_answer(*daemon);
  EXPECT_EQ(workers["workers"].get_int64().value(), 2) << answer_;
  std::int64_t groups = 0;
  for (simdjson::dom::element worker : workers["per_worker"].get_array()) {
    groups += worker["key_groups"].get_int64().value();
    EXPECT_EQ(worker["key_groups"].get_int64().value(), 2048) << answer_;
  }
  EXPECT_EQ(groups, 4096);
  EXPECT_EQ(workers["rescale"]["state"].get_string().value(), "done") << answer_;

  const std::string metrics = daemon->scrape_metrics();
  for (const char* expected : {"tally_workers 2", "tally_rescales_total{result=\"ok\"} 4",
                               "tally_rescale_seconds_count 4"}) {
    EXPECT_NE(metrics.find(expected), std::string::npos) << expected;
  }
  EXPECT_EQ(metrics.find("worker=\"3\""), std::string::npos) << "a removed worker's series stayed";

  // Every batch again: the moved dedup ids make all of them duplicates.
  for (std::size_t b = 0; b < workload.batches.size(); b += 50) {
    const std::string body = submit_until_answered(context, daemon->submit(),
                                                   fmt::format("again-{}", b), workload.batches[b]);
    EXPECT_EQ(parse_json(parser_, body)["accepted"].get_int64().value(), 0) << body;
  }

  // A crash right after: every score comes back, with another count.
  daemon->kill_hard();
  daemon = start({"--workers", "3"});
  expect_scores(*daemon, workload, "after a kill and a restart with 3 workers");
}

TEST_F(RescaleTest, AKillInTheMiddleOfAChangeLosesNothing) {
  const auto seed = std::random_device()();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  const auto make = [&](int batches) { return make_workload(batches, 500, 20000, seed); };
  const Workload workload = make(60);
  std::mt19937 random(seed);
  auto daemon = start({"--workers", "1"});
  for (int round = 0; round < 3; ++round) {
    const std::size_t from = workload.batches.size() * static_cast<std::size_t>(round) / 3;
    const std::size_t to = workload.batches.size() * static_cast<std::size_t>(round + 1) / 3;
    for (std::size_t b = from; b < to; ++b) {
      daemon->submit_batch(fmt::format("b{}", b), workload.batches[b]);
    }
    const int target = round % 2 == 0 ? 4 : 2;
    const std::string started = daemon->ask(fmt::format(R"({{"op":"workers","set":{}}})", target));
    EXPECT_NE(started.find(R"("state":"running")"), std::string::npos) << started;
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));  // a random moment
    daemon->kill_hard();
    daemon = start({"--workers", std::to_string(1 + round)});
    expect_scores(*daemon, make(static_cast<int>(to)), "after a kill during a change");
  }
}

TEST_F(RescaleTest, OutOfRangeIsRefusedWithTheReasonAndChangesNothing) {
  auto daemon = start({"--workers", "2"});
  for (const char* request : {R"({"op":"workers","set":0})", R"({"op":"workers","set":4097})",
                              R"({"op":"workers","set":"three"})"}) {
    const std::string answer = daemon->ask(request);
    EXPECT_NE(answer.find(R"("code":"bad_field")"), std::string::npos) << answer;
    EXPECT_NE(answer.find("1 to 4096"), std::string::npos) << answer;
  }
  const ProgramResult refused =
      run_program({tally_path(), "--query", daemon->query(), "workers", "5000"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("5000"), std::string::npos) << refused.output;
  EXPECT_EQ(workers_answer(*daemon)["workers"].get_int64().value(), 2);
  EXPECT_EQ(answer_.find("rescale"), std::string::npos) << answer_;
}

TEST_F(RescaleTest, TheAutoscalerGrowsASaturatedSingleWorker) {
  auto daemon = start({"--workers", "1", "--autoscale", "1:2", "--autoscale-after", "1s"});
  // Fire-and-forget as fast as ingest takes it: the worker is busy all the
  // time and its queue stays full.
  std::string batch;
  int sent = 0;
  const auto saturated = eventually(
      [&] {
        for (int i = 0; i < 20; ++i, ++sent) {
          batch.clear();
          for (int e = 0; e < 2000; ++e) {
            batch +=
                event_line(fmt::format("a{}-{}", sent, e), fmt::format("plate:A:{}", e * 7 + sent),
                           "small", "2026-01-01T00:00:00Z");
          }
          daemon->push(batch);
        }
        return workers_answer(*daemon)["workers"].get_int64().value() == 2;
      },
      std::chrono::minutes(2), std::chrono::milliseconds(0));
  EXPECT_TRUE(saturated) << daemon->output();
  EXPECT_NE(daemon->output().find("autoscale: 1 -> 2 workers: the busiest worker has been over"),
            std::string::npos)
      << daemon->output();
  EXPECT_TRUE(eventually(
      [&] {
        return daemon->scrape_metrics().find(
                   "tally_autoscale_decisions_total{direction=\"up\"} 1") != std::string::npos;
      },
      std::chrono::seconds(30)));
}

}  // namespace
}  // namespace tally::testing
