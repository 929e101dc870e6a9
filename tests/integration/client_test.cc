// The `tally` client against the real daemon: sending, asking, exit codes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir_ / "rules.toml", kDemeritRules); }
  TempDir dir_{"client"};
};

TEST_F(ClientTest, SendsAcknowledgedBatchesAndAnswersQueries) {
  DaemonProcess daemon(dir_ / "rules.toml", dir_ / "data", {"--workers", "2"});
  std::string events;
  for (int i = 0; i < 2500; ++i) {
    events += event_line(fmt::format("c{}", i), fmt::format("plate:NY:{}", i % 100), "red_light",
                         "2024-01-01T00:00:00Z");
  }
  events += event_line("bad", "x", "red_light", "never");
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
  EXPECT_NE(score.output.find("plate:NY:7  score 75  tier suspension  events 25"),
            std::string::npos)
      << score.output;

  auto explain = run_program({tally_path(), "--query", daemon.query(), "explain", "plate:NY:7"});
  EXPECT_NE(explain.output.find("red_light"), std::string::npos) << explain.output;

  auto top = run_program({tally_path(), "--query", daemon.query(), "top", "3"});
  EXPECT_NE(top.output.find("1. plate:NY:0"), std::string::npos) << top.output;

  auto json = run_program({tally_path(), "--query", daemon.query(), "--json", "stats"});
  EXPECT_NE(json.output.find("\"accepted\":2500"), std::string::npos) << json.output;

  auto changed = run_program({tally_path(), "--query", daemon.query(), "workers", "3"});
  EXPECT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("2 -> 3 workers in"), std::string::npos) << changed.output;
  auto listed = run_program({tally_path(), "--query", daemon.query(), "workers"});
  EXPECT_NE(listed.output.find("3 workers"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("key groups"), std::string::npos) << listed.output;
  auto after = run_program({tally_path(), "--query", daemon.query(), "top", "3"});
  EXPECT_EQ(after.output, top.output);  // every score kept
}

TEST_F(ClientTest, FireAndForgetSendReachesTheDaemon) {
  DaemonProcess daemon(dir_ / "rules.toml", dir_ / "data");
  write_file(dir_ / "one.ndjson", event_line("p1", "s", "red_light", std::int64_t{0}));
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
