// The engine with a journal: what one engine applied, another one recovers —
// with any worker count, from journals alone or from a snapshot plus the
// journals after it — and answers every query the same.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "core/work_queue.h"
#include "scorer/engine.h"
#include "scorer/query_handler.h"
#include "stream/event_decoder.h"
#include "tests/scorer/engine_feeder.h"
#include "tests/support/files.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRules = R"(
[score]
clock = "event"
[rules.fine]
points = 4
expires_after = "10d"
[rules.credit]
points = -3
[[tier]]
name = "watch"
min = 8
)";

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_path_ = dir_ / "rules.toml";
    std::FILE* file = std::fopen(rules_path_.c_str(), "w");
    std::fputs(kRules, file);
    std::fclose(file);
    data_ = dir_ / "data";
    fs::create_directories(data_);
  }
  void TearDown() override {
    handler_.reset();
    engine_.reset();
  }

  // Starts an engine with `workers` on the data directory and recovers it.
  storage::RecoveryReport start(std::uint32_t workers) {
    handler_.reset();
    engine_.reset();
    ScorerOptions options;
    options.workers = workers;
    options.rules_path = rules_path_.string();
    options.worker.journal.enabled = true;
    options.worker.journal.dir = data_.string();
    auto loaded = load_rules_file(rules_path_.string(), 1);
    engine_ = std::make_unique<Engine>(options, *loaded);
    engine_->start();
    auto recovered = engine_->recover();
    EXPECT_TRUE(recovered.is_ok()) << recovered.status().to_string();
    handler_ = std::make_unique<QueryHandler>(*engine_, nullptr);
    return recovered.value_or(storage::RecoveryReport{});
  }

  void stop() {
    handler_.reset();
    engine_->stop();
  }

  // Decodes NDJSON and routes it as the ingest thread does; returns once
  // every worker has applied it (a stats request queues behind the events).
  void send(const std::string& ndjson) {
    testing::feed(*engine_, decoder_, ndjson);
    (void)engine_->stats(QueueRow::kIngest);
  }

  std::string explain(const std::string& subject) {
    return handler_->handle(fmt::format(R"({{"op":"explain","subject":"{}"}})", subject));
  }

  // A day of traffic over a few subjects: fines, credits, revokes of events
  // that arrived and of one that has not, and a resent duplicate.
  static std::string traffic(int day) {
    std::string out;
    for (int s = 0; s < 12; ++s) {
      for (int k = 0; k < 3; ++k) {
        out += fmt::format(
            R"({{"id":"d{0}-s{1}-{2}","subject":"p{1}","type":"{3}","time":"2025-03-{0:02}T{2:02}:00:00Z","source":"cam-{2}"}})"
            "\n",
            day, s, k, k == 2 ? "credit" : "fine");
      }
    }
    out += fmt::format(
        R"({{"id":"rv{0}","subject":"p3","type":"revoke","revokes":"d{0}-s3-0","time":"2025-03-{0:02}T05:00:00Z","source":"appeals"}})"
        "\n",
        day);
    out += fmt::format(
        R"({{"id":"early{0}","subject":"p5","type":"revoke","revokes":"future-{0}","time":"2025-03-{0:02}T06:00:00Z"}})"
        "\n",
        day);
    return out;
  }

  std::vector<std::string> explain_all() {
    std::vector<std::string> answers;
    for (int s = 0; s < 12; ++s) answers.push_back(explain(fmt::format("p{}", s)));
    return answers;
  }

  tally::testing::TempDir scratch_{"recovery"};
  fs::path dir_ = scratch_.path(), rules_path_, data_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<QueryHandler> handler_;
  stream::EventDecoder decoder_;
};

// The rule version in an answer changes with every start (versions go on
// from the largest recovered); everything else must not.
std::string without_versions(std::string answer) {
  std::string out;
  for (std::size_t at = 0; at < answer.size();) {
    const std::size_t key = answer.find("\"rules_version\":", at);
    if (key == std::string::npos) {
      out += answer.substr(at);
      break;
    }
    out += answer.substr(at, key - at);
    at = answer.find_first_of(",}", key);
  }
  return out;
}

std::vector<std::string> without_versions(std::vector<std::string> answers) {
  for (auto& answer : answers) answer = without_versions(answer);
  return answers;
}

TEST_F(RecoveryTest, AnotherWorkerCountRecoversTheSameAnswersFromTheJournals) {
  const storage::RecoveryReport first = start(1);
  EXPECT_EQ(first.files, 0u);
  send(traffic(1) + traffic(2));
  send(traffic(2));  // resent: all duplicates, journaled once
  const auto before = without_versions(explain_all());
  stop();

  const storage::RecoveryReport report = start(3);
  EXPECT_EQ(report.journal_records, 2u * (12 * 3 + 2));
  EXPECT_FALSE(report.snapshot_generation.has_value());
  EXPECT_EQ(without_versions(explain_all()), before);
  // Dedup survives: a resend after the restart changes nothing.
  send(traffic(1));
  EXPECT_EQ(without_versions(explain_all()), before);
}

TEST_F(RecoveryTest, ASnapshotPlusTheJournalsAfterItRecoverEverything) {
  start(2);
  send(traffic(1));
  const SnapshotReport snapshot = engine_->snapshot();
  ASSERT_TRUE(snapshot.ok) << snapshot.error;
  EXPECT_EQ(snapshot.records, 12u * 3 + 2);
  send(traffic(2));
  const auto before = without_versions(explain_all());
  stop();

  const storage::RecoveryReport report = start(5);
  ASSERT_TRUE(report.snapshot_generation.has_value());
  EXPECT_EQ(*report.snapshot_generation, snapshot.generation);
  EXPECT_EQ(report.snapshot_records, 12u * 3 + 2);
  EXPECT_EQ(report.journal_records, 12u * 3 + 2);
  EXPECT_EQ(without_versions(explain_all()), before);

  // A snapshot taken by 5 workers, recovered by 1.
  ASSERT_TRUE(engine_->snapshot().ok);
  stop();
  const storage::RecoveryReport again = start(1);
  EXPECT_EQ(again.journal_records, 0u);
  EXPECT_EQ(again.snapshot_records, 2u * (12 * 3 + 2));
  EXPECT_EQ(without_versions(explain_all()), before);
}

TEST_F(RecoveryTest, ASnapshotDeletesTheFilesItCovers) {
  start(2);
  send(traffic(1));
  const SnapshotReport first = engine_->snapshot();
  ASSERT_TRUE(first.ok) << first.error;
  send(traffic(2));
  const SnapshotReport second = engine_->snapshot();
  ASSERT_TRUE(second.ok) << second.error;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(data_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  const auto scanned = storage::scan_state_dir(storage::Env::posix(), data_.string());
  ASSERT_TRUE(scanned.is_ok()) << scanned.status().to_string();
  const storage::StateFiles& files = *scanned;
  ASSERT_TRUE(files.snapshot_generation.has_value());
  EXPECT_TRUE(files.obsolete.empty()) << files.obsolete.front();
  for (const std::string& name : names) {
    if (name == "LOCK") continue;
    EXPECT_NE(name.find(fmt::format("{:08}", *files.snapshot_generation)), std::string::npos)
        << name << " should have been deleted";
  }
}

TEST_F(RecoveryTest, RuleVersionsGoOnAfterARestart) {
  start(1);
  send(traffic(1));
  stop();
  start(1);
  EXPECT_GE(engine_->rules().version(), 2u);
  const std::string answer = explain("p0");
  // The recovered contribution keeps the version it was applied with.
  EXPECT_NE(answer.find("\"rules_version\":1"), std::string::npos) << answer;
}

}  // namespace
}  // namespace tally::scorer
