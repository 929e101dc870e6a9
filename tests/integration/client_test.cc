// The `tally` client against the real daemon: sending, asking, exit codes.
#include <gtest/gtest.h>

#include "tests/integration/daemon_process.h"

namespace tally::testing {
namespace {

constexpr const char* kRules = R"(
[score]
clock = "event"
[rules.red_light]
points = 3
expires_after = "540d"
description = "Red light"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
)";

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("client");
    write_file(dir_ / "rules.toml", kRules);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ClientTest, SendsAcknowledgedBatchesAndAnswersQueries) {
  DaemonProcess daemon(dir_ / "rules.toml", dir_ / "data", {"--workers", "2"});
  std::string events;
  for (int i = 0; i < 2500; ++i) {
    events += "{\"id\":\"c" + std::to_string(i) +
              "\",\"subject\":\"plate:NY:" + std::to_string(i % 100) +
              "\",\"type\":\"red_light\",\"time\":\"2024-01-01T00:00:00Z\"}\n";
  }
  events += "{\"id\":\"bad\",\"subject\":\"x\",\"type\":\"red_light\",\"time\":\"never\"}\n";
  write_file(dir_ / "events.ndjson", events);

  auto sent = run_program({tally_path(), "--submit", daemon.submit(), "send", "--ack", "--batch",
                           "1000", (dir_ / "events.ndjson").string()});
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find("accepted 2500, duplicates 0, rejected 1"), std::string::npos)
      << sent.output;
  EXPECT_NE(sent.output.find("rejected bad_time: 1"), std::string::npos) << sent.output;

  // Sending again: the ids make it safe, every event is a duplicate.
  auto again = run_program({tally_path(), "--submit", daemon.submit(), "send", "--ack",
                            (dir_ / "events.ndjson").string()});
  EXPECT_NE(again.output.find("accepted 0, duplicates 2500"), std::string::npos) << again.output;

  auto score = run_program({tally_path(), "--query", daemon.query(), "score", "plate:NY:7"});
  EXPECT_EQ(score.exit_code, 0);
  EXPECT_NE(score.output.find("plate:NY:7  score 75  tier warning  events 25"), std::string::npos)
      << score.output;

  auto explain = run_program({tally_path(), "--query", daemon.query(), "explain", "plate:NY:7"});
  EXPECT_NE(explain.output.find("red_light"), std::string::npos) << explain.output;

  auto top = run_program({tally_path(), "--query", daemon.query(), "top", "3"});
  EXPECT_NE(top.output.find("1. plate:NY:0"), std::string::npos) << top.output;

  auto json = run_program({tally_path(), "--query", daemon.query(), "--json", "stats"});
  EXPECT_NE(json.output.find("\"accepted\":2500"), std::string::npos) << json.output;

  auto refused = run_program({tally_path(), "--query", daemon.query(), "workers", "9"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("not_supported"), std::string::npos) << refused.output;
}

TEST_F(ClientTest, FireAndForgetSendReachesTheDaemon) {
  DaemonProcess daemon(dir_ / "rules.toml", dir_ / "data");
  write_file(dir_ / "one.ndjson",
             "{\"id\":\"p1\",\"subject\":\"s\",\"type\":\"red_light\",\"time\":0}\n");
  auto sent = run_program({tally_path(), "--ingest", daemon.ingest(), "send",
                           (dir_ / "one.ndjson").string(), "--batch", "1"});
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  daemon.wait_for_processed(1);
}

TEST_F(ClientTest, NoDaemonIsAClearErrorNotAHang) {
  auto result =
      run_program({tally_path(), "--query", "tcp://127.0.0.1:1", "--timeout", "0.3", "score", "x"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("is tallyd running?"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace tally::testing
