// End to end: the real tallyd, real ZeroMQ sockets, real HTTP.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/support/alert_subscriber.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

// The brief's example scheme on the event clock: "now" is the largest event
// time seen, so the tests are independent of the wall clock.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir_ / "rules.toml", kDemeritRules); }

  DaemonProcess start(std::vector<std::string> extra = {}) {
    return DaemonProcess(dir_ / "rules.toml", dir_ / "data", std::move(extra));
  }

  TempDir dir_{"daemon"};
  simdjson::dom::parser parser_;
};

TEST_F(DaemonTest, ScoresEventsPushedFireAndForget) {
  auto daemon = start({"--workers", "2"});
  daemon.push(event_line("e1", "plate:NY:ABC1234", "red_light", "2024-01-10T08:00:00Z") +
              event_line("e2", "plate:NY:ABC1234", "speeding", "2024-02-10T08:00:00Z") +
              event_line("e3", "person:42", "speeding", "2024-02-11T08:00:00Z"));
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
  const std::string batch = event_line("a1", "s1", "red_light", "2024-01-01T00:00:00Z") +
                            event_line("a2", "s2", "speeding", "2024-01-01T00:00:00Z") +
                            "{not json\n" +
                            event_line("a1", "s1", "red_light", "2024-01-01T00:00:00Z") +
                            event_line("a3", "s1", "no_such_type", "2024-01-01T00:00:00Z") +
                            event_line("a4", "s1", "red_light", "yesterday");
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
  daemon.submit_batch("b1", event_line("r1", "p1", "revoke", "2024-03-01T00:00:00Z",
                                       {.source = "appeals-court", .revokes = "v1"}));
  daemon.submit_batch("b2", event_line("v1", "p1", "red_light", "2024-02-01T00:00:00Z") +
                                event_line("v2", "p1", "speeding", "2024-02-02T00:00:00Z"));
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
                      event_line("r2", "p1", "revoke", "2024-03-02T00:00:00Z", {.revokes = "v2"}));
  EXPECT_EQ(score_of(daemon, "p1"), 0);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(DaemonTest, TierChangesArePublishedOnTheAlertSocket) {
  auto daemon = start({"--workers", "3"});
  zmq::context_t context(1);
  AlertSubscriber subscriber(context, daemon.alerts());
  // Each probe takes a new subject from clear to warning.
  ASSERT_TRUE(subscriber.join([&](int attempt) {
    const std::string subject = fmt::format("probe-{}", attempt);
    daemon.submit_batch(subject,
                        event_line(subject, subject, "speeding", "2024-01-01T00:00:00Z") +
                            event_line(subject + "b", subject, "speeding", "2024-01-01T00:00:01Z"));
  })) << "no alert ever arrived";

  daemon.submit_batch("t1", event_line("t1", "driver:7", "red_light", "2024-05-01T00:00:00Z") +
                                event_line("t2", "driver:7", "red_light", "2024-05-02T00:00:00Z"));
  const auto alert = subscriber.next_about("driver:7");
  ASSERT_TRUE(alert.has_value()) << "no alert for driver:7";
  EXPECT_EQ(alert->tier, "warning");
  auto body = parse_json(parser_, alert->body);
  EXPECT_EQ(body["subject"].get_string().value(), "driver:7");
  EXPECT_EQ(body["from"].get_string().value(), "clear");
  EXPECT_EQ(body["to"].get_string().value(), "warning");
  EXPECT_EQ(body["score"].get_int64().value(), 6);
  EXPECT_EQ(body["event"].get_string().value(), "t2");
  EXPECT_EQ(body["cause"].get_string().value(), "event");
}

TEST_F(DaemonTest, MetricsEndpointExposesCountersAndLatency) {
  auto daemon = start({"--workers", "2"});
  daemon.push(event_line("m1", "s", "red_light", "2024-01-01T00:00:00Z") +
              event_line("m1", "s", "red_light", "2024-01-01T00:00:00Z") +
              event_line("m2", "s", "red_light", "not a time"));
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
      {R"({"op":"workers","set":5000})", "bad_field"},
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
      batch += event_line(fmt::format("t{}-{}", i, k), fmt::format("s{:02}", i), "red_light",
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
  daemon.submit_batch("s", event_line("x1", "a", "red_light", "2024-01-01T00:00:00Z") +
                               event_line("x2", "b", "red_light", "2024-01-01T00:00:00Z") +
                               event_line("x2", "b", "red_light", "2024-01-01T00:00:00Z") + "{}\n");
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
  daemon.submit_batch("r1", event_line("r1", "s", "red_light", "2024-01-01T00:00:00Z"));
  std::string changed(kDemeritRules);
  changed.replace(changed.find("points = 3"), 10, "points = 5");
  write_file(dir_ / "rules.toml", changed);
  auto ok = parse_json(parser_, daemon.ask(R"({"op":"reload"})"));
  EXPECT_TRUE(ok["reloaded"].get_bool().value());
  EXPECT_EQ(ok["version"].get_int64().value(), 2);
  daemon.submit_batch("r2", event_line("r2", "s", "red_light", "2024-01-02T00:00:00Z"));
  // Rules are not retroactive: the first event keeps its 3 points.
  EXPECT_EQ(score_of(daemon, "s"), 8);

  write_file(dir_ / "rules.toml", "[score]\nbase = 0\n[rules.x]\npoints = \"many\"\n");
  auto refused = parse_json(parser_, daemon.ask(R"({"op":"reload"})"));
  EXPECT_FALSE(refused["reloaded"].get_bool().value());
  EXPECT_EQ(refused["error"]["code"].get_string().value(), "rules_refused");
  EXPECT_EQ(refused["error"]["line"].get_int64().value(), 4);
  // The running rules stay: red_light is still known, at 5 points.
  daemon.submit_batch("r3", event_line("r3", "s", "red_light", "2024-01-03T00:00:00Z"));
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

TEST_F(DaemonTest, AConfigFileErrorExitsTwoWithFileAndLine) {
  write_file(dir_ / "tallyd.toml", "workers = 2\nworker_count = 4\n");
  auto result = run_program({tallyd_path(), "--rules", (dir_ / "rules.toml").string(), "--config",
                             (dir_ / "tallyd.toml").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(
      result.output.find((dir_ / "tallyd.toml").string() + ":2:16: unknown key `worker_count`"),
      std::string::npos)
      << result.output;
}

TEST_F(DaemonTest, PeriodicSnapshotsFollowTheRecordCount) {
  auto daemon = start({"--snapshot-every", "10", "--snapshot-interval", "1h"});
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += event_line(fmt::format("p{}", i), "s", "red_light", "2024-01-01T00:00:00Z");
  }
  daemon.submit_batch("p", batch);
  const auto snapshots_taken = [&] {
    const std::string metrics = daemon.scrape_metrics();
    const std::string name = "\ntally_snapshots_total ";
    const auto at = metrics.find(name);
    return at != std::string::npos && std::stod(metrics.substr(at + name.size())) > 0;
  };
  EXPECT_TRUE(eventually(snapshots_taken, std::chrono::seconds(30), std::chrono::milliseconds(50)))
      << "20 records journaled, none snapshotted";
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
    batch += event_line(fmt::format("d{}", i), fmt::format("s{}", i % 997), "red_light",
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
    events.push_back(event_line(fmt::format("o{}", i), subject, type, time));
    if (i % 10 == 0) {  // revoke an earlier (or later) event of the same subject
      const std::string revoked = fmt::format("o{}", random() % 3000);
      events.push_back(
          event_line(fmt::format("rv{}", i), subject, "revoke", time, {.revokes = revoked}));
    }
    if (i % 7 == 0) events.push_back(events.back());  // a duplicate
  }
  std::map<std::string, std::string> baseline;
  for (const char* workers : {"1", "3"}) {
    std::shuffle(events.begin(), events.end(), random);
    // A data directory each: the second daemon must not start from the first's state.
    DaemonProcess daemon(dir_ / "rules.toml", dir_ / ("data-" + std::string(workers)),
                         {"--workers", workers});
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
