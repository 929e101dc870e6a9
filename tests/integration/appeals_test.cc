// Appeals and the record, against the real daemon and the real `tally`:
// revoke with a reason, explain and history, expiry-driven alerts, and a
// refused reload while events keep arriving.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/alert_subscriber.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;

// How long a load or a reload may take on a loaded machine.
constexpr std::chrono::seconds kLoadTimeout{30};

// Every event here comes from the same camera.
std::string event(const std::string& id, const std::string& subject, const std::string& type,
                  const std::string& time) {
  return event_line(id, subject, type, time, {.source = "cam-1"});
}

// Event clock, so that history and `at` do not depend on today's date.
class AppealsTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(rules_, kShortExpiryRules); }

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

  TempDir dir_{"appeals"};
  fs::path rules_ = dir_ / "rules.toml";
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
  // Event times to the millisecond: the two seconds of expiry all count.
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  zmq::context_t context(1);
  AlertSubscriber subscriber(context, daemon.alerts());
  ASSERT_TRUE(subscriber.join([&](int attempt) {
    const std::string id = fmt::format("p{}", attempt);
    daemon.submit_batch(id, event_line(id, fmt::format("probe:{}", attempt), "speeding", now_ms(),
                                       {.source = "cam-1"}));
  })) << "no alert ever arrived";

  // The probes' own expiries are alerted too: read driver:9's alerts only.
  daemon.submit_batch("b", event_line("s1", "driver:9", "speeding", now_ms(), {.source = "cam-1"}));
  const auto entered = subscriber.next_about("driver:9");
  ASSERT_TRUE(entered.has_value()) << "no alert of the event";
  EXPECT_EQ(entered->tier, "watch");
  EXPECT_EQ(parse_json(parser_, entered->body)["cause"].get_string().value(), "event");

  const auto expired = subscriber.next_about("driver:9");
  ASSERT_TRUE(expired.has_value()) << "no expiry alert within the deadline";
  auto body = parse_json(parser_, expired->body);
  EXPECT_EQ(body["cause"].get_string().value(), "expiry");
  EXPECT_EQ(expired->tier, "clear");
  EXPECT_EQ(body["from"].get_string().value(), "watch");
  EXPECT_EQ(body["event"].get_string().value(), "s1");
  EXPECT_EQ(body["score"].get_int64().value(), 0);
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
      ASSERT_TRUE(push.send(zmq::buffer(lines)));
      sent += 50;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // pacing: a steady load
    }
  });
  daemon.wait_for_processed(50);  // the load is arriving
  write_file(rules_, "[rules.speeding]\npoints = 4\n[rules.bad\n");
  auto refused = ask(daemon, R"({"op":"reload"})");
  EXPECT_FALSE(refused["reloaded"].get_bool().value());
  EXPECT_EQ(refused["error"]["line"].get_uint64().value(), 3u);
  EXPECT_NE(std::string(refused["error"]["file"].get_string().value()).find("rules.toml"),
            std::string::npos);
  write_file(rules_, std::string(kShortExpiryRules) + "[rules.phone]\npoints = 5\n");
  auto accepted = ask(daemon, R"({"op":"reload"})");
  EXPECT_TRUE(accepted["reloaded"].get_bool().value()) << answer_;
  EXPECT_EQ(accepted["version"].get_uint64().value(), 2u);
  // Ten more batches go after the reload, decoded under the new set.
  const int sent_at_reload = sent.load();
  EXPECT_TRUE(eventually([&] { return sent.load() >= sent_at_reload + 500; }, kLoadTimeout));
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
    total += score_of(daemon, fmt::format("load:{}", i));
  }
  EXPECT_EQ(total, 4 * sent.load());
}

TEST_F(AppealsTest, WatchedRulesReloadWhenTheFileChanges) {
  DaemonProcess daemon(rules_, dir_ / "data", {"--watch-rules"});
  EXPECT_EQ(rules_version_of(daemon), 1u);
  const auto before = fs::last_write_time(rules_);
  write_file(rules_, std::string(kShortExpiryRules) + "[rules.phone]\npoints = 5\n");
  // A file system with coarse times could leave the time as it was: move it.
  fs::last_write_time(rules_, before + std::chrono::seconds(1));
  EXPECT_TRUE(eventually([&] { return rules_version_of(daemon) == 2; }, kLoadTimeout,
                         std::chrono::milliseconds(50)))
      << "the changed file was not reloaded";
  daemon.submit_batch("p", event("ph", "driver:5", "phone", "2025-01-01T00:00:00Z"));
  EXPECT_EQ(score_of(daemon, "driver:5"), 5);
}

}  // namespace
}  // namespace tally::testing
