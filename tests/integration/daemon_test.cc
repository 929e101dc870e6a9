// End to end: the real tallyd, real ZeroMQ sockets, real HTTP.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "tests/integration/daemon_process.h"

namespace tally::testing {
namespace {

// Event clock: "now" is the largest event time seen, so the tests are
// independent of the wall clock.
constexpr const char* kRules = R"(
[score]
base = 0
min = 0
max = 100
clock = "event"
retain = "730d"

[rules.red_light]
points = 3
expires_after = "540d"
description = "Failure to stop at a red light"

[rules.speeding]
points = 4
expires_after = "540d"

[rules.assist_police]
points = -2

[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
[[tier]]
name = "suspension"
min = 11
)";

std::string event(const std::string& id, const std::string& subject, const std::string& type,
                  const std::string& time, const std::string& extra = "") {
  return fmt::format(R"({{"id":"{}","subject":"{}","type":"{}","time":"{}"{}}})", id, subject, type,
                     time, extra) +
         "\n";
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("daemon");
    write_file(dir_ / "rules.toml", kRules);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DaemonProcess start(std::vector<std::string> extra = {}) {
    return DaemonProcess(dir_ / "rules.toml", dir_ / "data", std::move(extra));
  }

  std::int64_t score_of(DaemonProcess& daemon, const std::string& subject,
                        const std::string& at = "") {
    const std::string request =
        at.empty() ? fmt::format(R"({{"op":"score","subject":"{}"}})", subject)
                   : fmt::format(R"({{"op":"score","subject":"{}","at":"{}"}})", subject, at);
    const std::string answer = daemon.ask(request);
    auto json = parse_json(parser_, answer);
    return json["score"].get_int64().value();
  }

  std::filesystem::path dir_;
  simdjson::dom::parser parser_;
};

TEST_F(DaemonTest, ScoresEventsPushedFireAndForget) {
  auto daemon = start({"--workers", "2"});
  daemon.push(event("e1", "plate:NY:ABC1234", "red_light", "2024-01-10T08:00:00Z") +
              event("e2", "plate:NY:ABC1234", "speeding", "2024-02-10T08:00:00Z") +
              event("e3", "person:42", "speeding", "2024-02-11T08:00:00Z"));
  daemon.wait_for_processed(3);

  auto answer = parse_json(parser_, daemon.ask(R"({"op":"score","subject":"plate:NY:ABC1234"})"));
  EXPECT_EQ(answer["subject"].get_string().value(), "plate:NY:ABC1234");
  EXPECT_EQ(answer["score"].get_int64().value(), 7);
  EXPECT_EQ(answer["tier"].get_string().value(), "warning");
  EXPECT_EQ(answer["events"].get_int64().value(), 2);

  // `at` answers for past times: before the second event only the first counts.
  EXPECT_EQ(score_of(daemon, "plate:NY:ABC1234", "2024-01-20T00:00:00Z"), 3);
  EXPECT_EQ(score_of(daemon, "plate:NY:ABC1234", "2023-01-01T00:00:00Z"), 0);
  // Expiry: 540 days after 2024-01-10 the red light no longer counts.
  EXPECT_EQ(score_of(daemon, "plate:NY:ABC1234", "2025-07-04T08:00:00Z"), 4);

  // An unknown subject has the base score and no events.
  auto unknown = parse_json(parser_, daemon.ask(R"({"op":"score","subject":"nobody"})"));
  EXPECT_EQ(unknown["score"].get_int64().value(), 0);
  EXPECT_EQ(unknown["events"].get_int64().value(), 0);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(DaemonTest, AcknowledgedBatchReportsAcceptedDuplicatesAndRejectedLines) {
  auto daemon = start();
  const std::string batch = event("a1", "s1", "red_light", "2024-01-01T00:00:00Z") +
                            event("a2", "s2", "speeding", "2024-01-01T00:00:00Z") + "{not json\n" +
                            event("a1", "s1", "red_light", "2024-01-01T00:00:00Z") +
                            event("a3", "s1", "no_such_type", "2024-01-01T00:00:00Z") +
                            event("a4", "s1", "red_light", "yesterday");
  auto answer = parse_json(parser_, daemon.submit_batch("batch-1", batch));
  EXPECT_EQ(answer["accepted"].get_int64().value(), 2);
  EXPECT_EQ(answer["duplicates"].get_int64().value(), 1);
  auto rejected = answer["rejected"].get_array().value();
  ASSERT_EQ(rejected.size(), 3u);
  std::vector<std::pair<std::int64_t, std::string>> lines;
  for (auto item : rejected) {
    lines.emplace_back(item["line"].get_int64().value(),
                       std::string(item["reason"].get_string().value()));
  }
  EXPECT_EQ(lines, (std::vector<std::pair<std::int64_t, std::string>>{
                       {3, "malformed_json"}, {5, "unknown_type"}, {6, "bad_time"}}));

  // A client that heard no answer resends: every event is now a duplicate.
  auto resent = parse_json(parser_, daemon.submit_batch("batch-1", batch));
  EXPECT_EQ(resent["accepted"].get_int64().value(), 0);
  EXPECT_EQ(resent["duplicates"].get_int64().value(), 3);
  EXPECT_EQ(score_of(daemon, "s1"), 3);
  EXPECT_EQ(daemon.terminate(), 0);

  // Every refused line is in the dead-letter file with its reason.
  const std::string dead_letters = read_file(dir_ / "data" / "rejected.ndjson");
  EXPECT_NE(dead_letters.find(R"("reason":"malformed_json")"), std::string::npos);
  EXPECT_NE(dead_letters.find(R"("reason":"unknown_type")"), std::string::npos);
  EXPECT_NE(dead_letters.find(R"("reason":"bad_time")"), std::string::npos);
  EXPECT_NE(dead_letters.find(R"("raw":"{not json")"), std::string::npos);
  EXPECT_NE(dead_letters.find(R"("batch":"batch-1")"), std::string::npos);
  EXPECT_EQ(std::count(dead_letters.begin(), dead_letters.end(), '\n'), 6);
}

TEST_F(DaemonTest, EmptyAndAllRejectedBatchesAreStillAnswered) {
  auto daemon = start();
  auto empty = parse_json(parser_, daemon.submit_batch("empty", ""));
  EXPECT_EQ(empty["accepted"].get_int64().value(), 0);
  auto bad = parse_json(parser_, daemon.submit_batch("bad", "[1,2]\n"));
  EXPECT_EQ(bad["rejected"].get_array().value().size(), 1u);
}

TEST_F(DaemonTest, RevokeCancelsItsTargetWhicheverArrivesFirst) {
  auto daemon = start();
  // The revoke arrives before its target.
  daemon.submit_batch("b1", event("r1", "p1", "revoke", "2024-03-01T00:00:00Z",
                                  R"(,"revokes":"v1","source":"appeals-court")"));
  daemon.submit_batch("b2", event("v1", "p1", "red_light", "2024-02-01T00:00:00Z") +
                                event("v2", "p1", "speeding", "2024-02-02T00:00:00Z"));
  EXPECT_EQ(score_of(daemon, "p1"), 4);
  // ...and from answers about earlier times too.
  EXPECT_EQ(score_of(daemon, "p1", "2024-02-01T12:00:00Z"), 0);

  auto explain = parse_json(parser_, daemon.ask(R"({"op":"explain","subject":"p1"})"));
  EXPECT_EQ(explain["score"].get_int64().value(), 4);
  auto active = explain["contributions"].get_array().value();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active.at(0)["id"].get_string().value(), "v2");
  EXPECT_EQ(active.at(0)["type"].get_string().value(), "speeding");
  EXPECT_EQ(active.at(0)["points"].get_int64().value(), 4);
  EXPECT_EQ(active.at(0)["time"].get_string().value(), "2024-02-02T00:00:00Z");
  EXPECT_EQ(active.at(0)["expires"].get_string().value(), "2025-07-26T00:00:00Z");
  auto revoked = explain["revoked"].get_array().value();
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked.at(0)["id"].get_string().value(), "v1");
  EXPECT_EQ(revoked.at(0)["revoked_by"].get_string().value(), "r1");
  EXPECT_EQ(revoked.at(0)["revoke_source"].get_string().value(), "appeals-court");

  // A revoke after its target.
  daemon.submit_batch("b3",
                      event("r2", "p1", "revoke", "2024-03-02T00:00:00Z", R"(,"revokes":"v2")"));
  EXPECT_EQ(score_of(daemon, "p1"), 0);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(DaemonTest, TierChangesArePublishedOnTheAlertSocket) {
  auto daemon = start({"--workers", "3"});
  zmq::context_t context(1);
  zmq::socket_t subscriber(context, zmq::socket_type::sub);
  subscriber.set(zmq::sockopt::subscribe, "");
  subscriber.set(zmq::sockopt::rcvtimeo, 10000);
  subscriber.connect(daemon.alerts());
  // PUB/SUB joins asynchronously: send a probe until the subscriber hears it.
  std::vector<zmq::message_t> frames;
  for (int attempt = 0; attempt < 100; ++attempt) {
    daemon.submit_batch(
        fmt::format("probe-{}", attempt),
        event(fmt::format("probe-{}", attempt), fmt::format("probe-{}", attempt), "speeding",
              "2024-01-01T00:00:00Z") +
            event(fmt::format("probe-{}b", attempt), fmt::format("probe-{}", attempt), "speeding",
                  "2024-01-01T00:00:01Z"));
    subscriber.set(zmq::sockopt::rcvtimeo, 100);
    frames.clear();
    if (zmq::recv_multipart(subscriber, std::back_inserter(frames))) break;
  }
  ASSERT_EQ(frames.size(), 2u) << "no alert ever arrived";
  subscriber.set(zmq::sockopt::rcvtimeo, 10000);

  daemon.submit_batch("t1", event("t1", "driver:7", "red_light", "2024-05-01T00:00:00Z") +
                                event("t2", "driver:7", "red_light", "2024-05-02T00:00:00Z"));
  frames.clear();
  ASSERT_TRUE(zmq::recv_multipart(subscriber, std::back_inserter(frames)));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].to_string(), "warning");
  auto body = parse_json(parser_, frames[1].to_string());
  EXPECT_EQ(body["subject"].get_string().value(), "driver:7");
  EXPECT_EQ(body["from"].get_string().value(), "clear");
  EXPECT_EQ(body["to"].get_string().value(), "warning");
  EXPECT_EQ(body["score"].get_int64().value(), 6);
  EXPECT_EQ(body["event"].get_string().value(), "t2");
}

TEST_F(DaemonTest, MetricsEndpointExposesCountersAndLatency) {
  auto daemon = start({"--workers", "2"});
  daemon.push(event("m1", "s", "red_light", "2024-01-01T00:00:00Z") +
              event("m1", "s", "red_light", "2024-01-01T00:00:00Z") +
              event("m2", "s", "red_light", "not a time"));
  daemon.wait_for_processed(3);
  const std::string metrics = daemon.scrape_metrics();
  for (const char* expected :
       {"tally_events_received_total 3", "tally_events_rejected_total{reason=\"bad_time\"} 1",
        "tally_events_accepted_total{worker=", "tally_events_duplicate_total{worker=",
        "tally_rule_hits_total{type=\"red_light\"} 1", "tally_subjects{worker=",
        "tally_queue_depth{worker=", "tally_worker_busy_seconds_total{worker=",
        "tally_event_latency_seconds_bucket{le=", "tally_event_latency_seconds_count 2",
        "tally_rules_reloads_total{result=\"ok\"} 0",
        "tally_build_info{version=", "tally_tier_changes_total", "tally_workers 2"}) {
    EXPECT_NE(metrics.find(expected), std::string::npos) << "missing: " << expected;
  }
  EXPECT_EQ(metrics.find("subject=\""), std::string::npos) << "no subject ids in labels";
  EXPECT_EQ(metrics.find("\"s\""), std::string::npos) << "no subject ids in labels";
}

TEST_F(DaemonTest, QueryErrorsAreNamedNeverSilent) {
  auto daemon = start({"--workers", "2"});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "bad_request"},
      {"[1]", "bad_request"},
      {R"({"subject":"x"})", "missing_field"},
      {R"({"op":"fly"})", "unknown_op"},
      {R"({"op":"score"})", "missing_field"},
      {R"({"op":"score","subject":7})", "bad_field"},
      {R"({"op":"score","subject":"x","at":"soon"})", "bad_time"},
      {R"({"op":"top","n":0})", "bad_field"},
      {R"({"op":"top","order":"sideways"})", "bad_field"},
      {R"({"op":"workers","set":8})", "not_supported"},
  };
  for (const auto& [request, code] : cases) {
    auto answer = parse_json(parser_, daemon.ask(request));
    EXPECT_EQ(answer["error"]["code"].get_string().value(), code) << request;
    EXPECT_FALSE(answer["error"]["message"].get_string().value().empty());
  }
  auto workers = parse_json(parser_, daemon.ask(R"({"op":"workers"})"));
  EXPECT_EQ(workers["workers"].get_int64().value(), 2);
  auto same = parse_json(parser_, daemon.ask(R"({"op":"workers","set":2})"));
  EXPECT_EQ(same["workers"].get_int64().value(), 2);
}

TEST_F(DaemonTest, TopListsHighestAndLowest) {
  auto daemon = start({"--workers", "3"});
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    for (int k = 0; k <= i % 5; ++k) {
      batch += event(fmt::format("t{}-{}", i, k), fmt::format("s{:02}", i), "red_light",
                     "2024-01-01T00:00:00Z");
    }
  }
  daemon.submit_batch("top", batch);
  auto top = parse_json(parser_, daemon.ask(R"({"op":"top","n":3,"order":"highest"})"));
  auto subjects = top["subjects"].get_array().value();
  ASSERT_EQ(subjects.size(), 3u);
  // Five red lights (15 points) for s04, s09, s14, s19; ties go by subject.
  EXPECT_EQ(subjects.at(0)["subject"].get_string().value(), "s04");
  EXPECT_EQ(subjects.at(0)["score"].get_int64().value(), 15);
  EXPECT_EQ(subjects.at(1)["subject"].get_string().value(), "s09");
  EXPECT_EQ(subjects.at(2)["subject"].get_string().value(), "s14");
  auto low = parse_json(parser_, daemon.ask(R"({"op":"top","n":2,"order":"lowest"})"));
  EXPECT_EQ(low["subjects"].at(0)["subject"].get_string().value(), "s00");
  EXPECT_EQ(low["subjects"].at(0)["score"].get_int64().value(), 3);
}

TEST_F(DaemonTest, StatsCountsPerWorker) {
  auto daemon = start({"--workers", "2"});
  daemon.submit_batch("s", event("x1", "a", "red_light", "2024-01-01T00:00:00Z") +
                               event("x2", "b", "red_light", "2024-01-01T00:00:00Z") +
                               event("x2", "b", "red_light", "2024-01-01T00:00:00Z") + "{}\n");
  auto stats = parse_json(parser_, daemon.ask(R"({"op":"stats"})"));
  EXPECT_EQ(stats["received"].get_int64().value(), 4);
  EXPECT_EQ(stats["accepted"].get_int64().value(), 2);
  EXPECT_EQ(stats["duplicates"].get_int64().value(), 1);
  EXPECT_EQ(stats["rejected"]["missing_field"].get_int64().value(), 1);
  EXPECT_EQ(stats["subjects"].get_int64().value(), 2);
  EXPECT_EQ(stats["workers"].get_array().value().size(), 2u);
}

TEST_F(DaemonTest, ReloadSwapsRulesAndRefusesABrokenFile) {
  auto daemon = start();
  daemon.submit_batch("r1", event("r1", "s", "red_light", "2024-01-01T00:00:00Z"));
  std::string changed = kRules;
  changed.replace(changed.find("points = 3"), 10, "points = 5");
  write_file(dir_ / "rules.toml", changed);
  auto ok = parse_json(parser_, daemon.ask(R"({"op":"reload"})"));
  EXPECT_TRUE(ok["reloaded"].get_bool().value());
  EXPECT_EQ(ok["version"].get_int64().value(), 2);
  daemon.submit_batch("r2", event("r2", "s", "red_light", "2024-01-02T00:00:00Z"));
  // Rules are not retroactive: the first event keeps its 3 points.
  EXPECT_EQ(score_of(daemon, "s"), 8);

  write_file(dir_ / "rules.toml", "[score]\nbase = 0\n[rules.x]\npoints = \"many\"\n");
  auto refused = parse_json(parser_, daemon.ask(R"({"op":"reload"})"));
  EXPECT_FALSE(refused["reloaded"].get_bool().value());
  EXPECT_EQ(refused["error"]["code"].get_string().value(), "rules_refused");
  EXPECT_EQ(refused["error"]["line"].get_int64().value(), 4);
  // The running rules stay: red_light is still known, at 5 points.
  daemon.submit_batch("r3", event("r3", "s", "red_light", "2024-01-03T00:00:00Z"));
  EXPECT_EQ(score_of(daemon, "s"), 13);
  const std::string metrics = daemon.scrape_metrics();
  EXPECT_NE(metrics.find("tally_rules_reloads_total{result=\"refused\"} 1"), std::string::npos);
}

TEST_F(DaemonTest, DaemonRefusesBadRulesWithFileAndLine) {
  write_file(dir_ / "bad.toml",
             "[score]\nbase = 0\n\n[rules.red_light]\npoints = 3\n"
             "expires_after = \"forever\"\n");
  auto result = run_program({tallyd_path(), "--rules", (dir_ / "bad.toml").string(), "--data-dir",
                             (dir_ / "data").string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("bad.toml:6"), std::string::npos) << result.output;
}

TEST_F(DaemonTest, BusyPortIsAClearStartupError) {
  auto first = start();
  auto result =
      run_program({tallyd_path(), "--rules", (dir_ / "rules.toml").string(), "--data-dir",
                   (dir_ / "data2").string(), "--query-bind", first.query(), "--metrics-listen",
                   "127.0.0.1:0", "--ingest-bind", "tcp://127.0.0.1:*", "--submit-bind",
                   "tcp://127.0.0.1:*", "--alerts-bind", "tcp://127.0.0.1:*"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("cannot bind query socket"), std::string::npos) << result.output;
}

TEST_F(DaemonTest, SigtermDrainsEverythingAlreadyReceived) {
  auto daemon = start({"--workers", "2"});
  std::string batch;
  for (int i = 0; i < 20000; ++i) {
    batch += event(fmt::format("d{}", i), fmt::format("s{}", i % 997), "red_light",
                   "2024-01-01T00:00:00Z");
  }
  auto answer = parse_json(parser_, daemon.submit_batch("drain", batch));
  EXPECT_EQ(answer["accepted"].get_int64().value(), 20000);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(DaemonTest, ScoresDoNotDependOnArrivalOrderOrWorkerCount) {
  // The same events, shuffled differently, to daemons with 1 and 3 workers.
  std::vector<std::string> events;
  std::mt19937 random(7);
  for (int i = 0; i < 3000; ++i) {
    const std::string subject = fmt::format("s{}", random() % 50);
    const std::string time =
        fmt::format("2024-{:02}-{:02}T00:00:00Z", 1 + random() % 12, 1 + random() % 28);
    const char* type = random() % 3 == 0 ? "speeding" : "red_light";
    events.push_back(event(fmt::format("o{}", i), subject, type, time));
    if (i % 10 == 0) {  // revoke an earlier (or later) event of the same subject
      events.push_back(event(fmt::format("rv{}", i), subject, "revoke", time,
                             fmt::format(R"(,"revokes":"o{}")", random() % 3000)));
    }
    if (i % 7 == 0) events.push_back(events.back());  // a duplicate
  }
  std::map<std::string, std::string> baseline;
  for (const char* workers : {"1", "3"}) {
    std::shuffle(events.begin(), events.end(), random);
    auto daemon = start({"--workers", workers});
    std::string batch;
    for (std::size_t i = 0; i < events.size(); ++i) {
      batch += events[i];
      if (i % 500 == 499 || i + 1 == events.size()) {
        daemon.submit_batch(fmt::format("o-{}", i), batch);
        batch.clear();
      }
    }
    std::map<std::string, std::string> scores;
    for (int s = 0; s < 50; ++s) {
      const std::string subject = fmt::format("s{}", s);
      for (const char* at : {"2024-03-01T00:00:00Z", "2024-12-31T00:00:00Z", ""}) {
        scores[subject + "@" + at] = std::to_string(score_of(daemon, subject, at));
      }
    }
    if (baseline.empty()) {
      baseline = scores;
    } else {
      EXPECT_EQ(scores, baseline) << "workers=" << workers;
    }
  }
}

}  // namespace
}  // namespace tally::testing
