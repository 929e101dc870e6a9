// Appeals and the record, against the real daemon and the real `tally`:
// revoke with a reason, explain and history, expiry-driven alerts, and a
// refused reload while events keep arriving.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <zmq_addon.hpp>

#include "tests/integration/daemon_process.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;

// Event clock, so that history and `at` do not depend on today's date.
constexpr const char* kRules = R"(
[score]
clock = "event"
[rules.speeding]
points = 4
expires_after = "30d"
[rules.red_light]
points = 3
expires_after = "60d"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
)";

std::string event(const std::string& id, const std::string& subject, const std::string& type,
                  const std::string& time) {
  return fmt::format(R"({{"id":"{}","subject":"{}","type":"{}","time":"{}","source":"cam-1"}})"
                     "\n",
                     id, subject, type, time);
}

class AppealsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("appeals");
    rules_ = dir_ / "rules.toml";
    write_file(rules_, kRules);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProgramResult tally(DaemonProcess& daemon, std::vector<std::string> args) {
    std::vector<std::string> argv = {tally_path(), "--query", daemon.query(), "--submit",
                                     daemon.submit()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
  }

  simdjson::dom::element ask(DaemonProcess& daemon, const std::string& request) {
    answer_ = daemon.ask(request);
    return parse_json(parser_, answer_);
  }

  fs::path dir_, rules_;
  simdjson::dom::parser parser_;
  std::string answer_;
};

TEST_F(AppealsTest, ARevokeWithAReasonShowsInExplainAndHistory) {
  DaemonProcess daemon(rules_, dir_ / "data", {"--workers", "2"});
  daemon.submit_batch("b", event("e1", "driver:1", "speeding", "2025-03-01T10:00:00Z") +
                               event("e2", "driver:1", "red_light", "2025-03-05T10:00:00Z"));

  const ProgramResult revoked =
      tally(daemon, {"revoke", "driver:1", "e1", "--reason", "appeal upheld: radar not calibrated",
                     "--source", "court-7", "--time", "2025-03-10T00:00:00Z"});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_NE(revoked.output.find("revoked e1 of driver:1"), std::string::npos) << revoked.output;
  // The same appeal again is recorded once.
  const ProgramResult again =
      tally(daemon, {"revoke", "driver:1", "e1", "--reason", "appeal upheld: radar not calibrated",
                     "--source", "court-7", "--time", "2025-03-10T00:00:00Z"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already recorded"), std::string::npos) << again.output;

  auto explain = ask(daemon, R"({"op":"explain","subject":"driver:1"})");
  EXPECT_EQ(explain["score"].get_int64().value(), 3);
  simdjson::dom::array revoked_list;
  ASSERT_EQ(explain["revoked"].get_array().get(revoked_list), simdjson::SUCCESS);
  ASSERT_EQ(revoked_list.size(), 1u);
  simdjson::dom::element entry;
  ASSERT_EQ(revoked_list.at(0).get(entry), simdjson::SUCCESS);
  EXPECT_EQ(entry["id"].get_string().value(), "e1");
  EXPECT_EQ(entry["revoked_by"].get_string().value(), "revoke:e1");
  EXPECT_EQ(entry["revoke_source"].get_string().value(), "court-7");
  EXPECT_EQ(entry["revoke_reason"].get_string().value(), "appeal upheld: radar not calibrated");
  EXPECT_EQ(entry["rules_version"].get_uint64().value(), 1u);

  const ProgramResult printed = tally(daemon, {"explain", "driver:1"});
  EXPECT_NE(printed.output.find("radar not calibrated"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("court-7"), std::string::npos) << printed.output;

  auto history = ask(daemon, R"({"op":"history","subject":"driver:1"})");
  std::vector<std::string> whats;
  simdjson::dom::array timeline;
  ASSERT_EQ(history["timeline"].get_array().get(timeline), simdjson::SUCCESS);
  for (auto item : timeline) {
    whats.emplace_back(item["what"].get_string().value());
  }
  // e1 accepted, e2 accepted, e1 revoked, e2 expires (60 days on: after "now").
  EXPECT_EQ(whats, (std::vector<std::string>{"accepted", "accepted", "revoked", "expires"}));

  // A reason that is too long is refused by name.
  const ProgramResult too_long =
      tally(daemon, {"revoke", "driver:1", "e2", "--reason", std::string(121, 'x')});
  EXPECT_EQ(too_long.exit_code, 1) << too_long.output;
  EXPECT_NE(too_long.output.find("oversized"), std::string::npos) << too_long.output;
}

TEST_F(AppealsTest, HistoryShowsExpiriesAndTierChangesWithTheirDates) {
  DaemonProcess daemon(rules_, dir_ / "data");
  daemon.submit_batch("b", event("s1", "driver:2", "speeding", "2025-01-01T00:00:00Z") +
                               event("r1", "driver:2", "red_light", "2025-01-10T00:00:00Z") +
                               // moves the event clock well past both expiries
                               event("x", "driver:3", "speeding", "2025-06-01T00:00:00Z"));
  auto history = ask(daemon, R"({"op":"history","subject":"driver:2"})");
  std::vector<std::string> lines;
  simdjson::dom::array timeline;
  ASSERT_EQ(history["timeline"].get_array().get(timeline), simdjson::SUCCESS);
  for (auto item : timeline) {
    std::string line =
        fmt::format("{} {}", item["time"].get_string().value(), item["what"].get_string().value());
    if (item["what"].get_string().value() == "tier") {
      line += fmt::format(" {}->{}", item["from"].get_string().value(),
                          item["to"].get_string().value());
    }
    line += fmt::format(" {}", item["score"].get_int64().value());
    lines.push_back(line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "2025-01-01T00:00:00Z accepted 4",
                       "2025-01-10T00:00:00Z accepted 7",
                       "2025-01-10T00:00:00Z tier clear->warning 7",
                       "2025-01-31T00:00:00Z expired 3",
                       "2025-01-31T00:00:00Z tier warning->clear 3",
                       "2025-03-11T00:00:00Z expired 0",
                   }));
  // And `score` with `at` answers for any date: on 20 January the driver had 7.
  auto score = ask(daemon, R"({"op":"score","subject":"driver:2","at":"2025-01-20T00:00:00Z"})");
  EXPECT_EQ(score["score"].get_int64().value(), 7);
  EXPECT_EQ(score["tier"].get_string().value(), "warning");
  const ProgramResult printed = tally(daemon, {"history", "driver:2"});
  EXPECT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find("warning -> clear (expiry of s1)"), std::string::npos)
      << printed.output;
}

// Points expire with no event arriving: the sweep finds the change of tier
// and alerts it, at most one sweep interval (here 1 s) after the expiry.
TEST_F(AppealsTest, AnExpiryThatChangesATierIsAlertedWithoutAnyEvent) {
  write_file(rules_, R"(
[rules.speeding]
points = 4
expires_after = "2s"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "watch"
min = 4
)");
  DaemonProcess daemon(rules_, dir_ / "data", {"--expiry-sweep", "1s"});
  zmq::context_t context(1);
  zmq::socket_t subscriber(context, zmq::socket_type::sub);
  subscriber.set(zmq::sockopt::subscribe, "");
  subscriber.connect(daemon.alerts());
  // PUB/SUB joins asynchronously: probe until an alert is heard.
  std::vector<zmq::message_t> frames;
  const auto now_text = [] {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return std::string(text);
  };
  subscriber.set(zmq::sockopt::rcvtimeo, 100);
  for (int attempt = 0; attempt < 50 && frames.empty(); ++attempt) {
    daemon.submit_batch(fmt::format("p{}", attempt),
                        event(fmt::format("p{}", attempt), fmt::format("probe:{}", attempt),
                              "speeding", now_text()));
    (void)zmq::recv_multipart(subscriber, std::back_inserter(frames));
  }
  ASSERT_EQ(frames.size(), 2u) << "no alert ever arrived";

  // The probes' own expiries are alerted too; wait for the one of driver:9.
  daemon.submit_batch("b", event("s1", "driver:9", "speeding", now_text()));
  subscriber.set(zmq::sockopt::rcvtimeo, 500);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool entered = false, expired = false;
  while (!expired && std::chrono::steady_clock::now() < deadline) {
    frames.clear();
    if (!zmq::recv_multipart(subscriber, std::back_inserter(frames))) continue;
    auto body = parse_json(parser_, frames[1].to_string());
    if (body["subject"].get_string().value() != "driver:9") continue;
    if (body["cause"].get_string().value() == "event") {
      EXPECT_EQ(frames[0].to_string(), "watch");
      entered = true;
    } else {
      EXPECT_EQ(body["cause"].get_string().value(), "expiry");
      EXPECT_EQ(frames[0].to_string(), "clear");
      EXPECT_EQ(body["from"].get_string().value(), "watch");
      EXPECT_EQ(body["event"].get_string().value(), "s1");
      EXPECT_EQ(body["score"].get_int64().value(), 0);
      expired = true;
    }
  }
  EXPECT_TRUE(entered);
  EXPECT_TRUE(expired) << "no expiry alert within the deadline";
}

// A broken file sent to reload while events keep arriving: refused with file
// and line, the running rules stay, and no event is lost or mixed.
TEST_F(AppealsTest, ARefusedReloadUnderLoadLosesNothingAndKeepsTheRules) {
  DaemonProcess daemon(rules_, dir_ / "data", {"--workers", "2"});
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    zmq::context_t context(1);
    zmq::socket_t push(context, zmq::socket_type::push);
    push.connect(daemon.ingest());
    for (int batch = 0; !stop.load() || batch < 20; ++batch) {
      std::string lines;
      for (int i = 0; i < 50; ++i) {
        lines += event(fmt::format("l{}-{}", batch, i), fmt::format("load:{}", i % 7), "speeding",
                       "2025-02-01T00:00:00Z");
      }
      push.send(zmq::buffer(lines));
      sent += 50;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  write_file(rules_, "[rules.speeding]\npoints = 4\n[rules.bad\n");
  auto refused = ask(daemon, R"({"op":"reload"})");
  EXPECT_FALSE(refused["reloaded"].get_bool().value());
  EXPECT_EQ(refused["error"]["line"].get_uint64().value(), 3u);
  EXPECT_NE(std::string(refused["error"]["file"].get_string().value()).find("rules.toml"),
            std::string::npos);
  write_file(rules_, std::string(kRules) + "[rules.phone]\npoints = 5\n");
  auto accepted = ask(daemon, R"({"op":"reload"})");
  EXPECT_TRUE(accepted["reloaded"].get_bool().value()) << answer_;
  EXPECT_EQ(accepted["version"].get_uint64().value(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  sender.join();
  daemon.wait_for_processed(static_cast<std::uint64_t>(sent.load()));
  auto stats = ask(daemon, R"({"op":"stats"})");
  EXPECT_EQ(stats["accepted"].get_uint64().value(), static_cast<std::uint64_t>(sent.load()));
  EXPECT_EQ(stats["rejected_total"].get_uint64().value(), 0u);
  EXPECT_EQ(stats["rules_version"].get_uint64().value(), 2u);
  // Every event counted 4 points under either version: the sum is exact.
  std::int64_t total = 0;
  for (int i = 0; i < 7; ++i) {
    total += ask(daemon, fmt::format(R"({{"op":"score","subject":"load:{}"}})", i))["score"]
                 .get_int64()
                 .value();
  }
  EXPECT_EQ(total, 4 * sent.load());
}

TEST_F(AppealsTest, WatchedRulesReloadWhenTheFileChanges) {
  DaemonProcess daemon(rules_, dir_ / "data", {"--watch-rules"});
  EXPECT_EQ(ask(daemon, R"({"op":"stats"})")["rules_version"].get_uint64().value(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a coarse mtime must move
  write_file(rules_, std::string(kRules) + "[rules.phone]\npoints = 5\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint64_t version = 1;
  while (version == 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    version = ask(daemon, R"({"op":"stats"})")["rules_version"].get_uint64().value();
  }
  EXPECT_EQ(version, 2u) << "the changed file was not reloaded";
  daemon.submit_batch("p", event("ph", "driver:5", "phone", "2025-01-01T00:00:00Z"));
  EXPECT_EQ(ask(daemon, R"({"op":"score","subject":"driver:5"})")["score"].get_int64().value(), 5);
}

}  // namespace
}  // namespace tally::testing
