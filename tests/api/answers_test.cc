// Answers: the exact JSON tallyd writes, and reading it back into the same values.
#include "api/answers.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/event_time.h"

namespace tally::api {
namespace {

constexpr std::int64_t kMarch1 = 1740787200000;  // 2025-03-01T00:00:00Z

ScoreAnswer a_score() { return {"plate:NY:A", 7, "warning", 2, kMarch1}; }

Contribution a_contribution(bool revoked) {
  Contribution c;
  c.id = "e1";
  c.type = "red_light";
  c.points = 3;
  c.time_ms = kMarch1;
  c.expires_ms = revoked ? kMarch1 + 1 : kNever;
  c.source = "cam-9";
  c.rules_version = 2;
  c.revoked = revoked;
  if (revoked) c.revocation = {"revoke:e1", "court", "misread", kMarch1 + 86'400'000, ""};
  return c;
}

TEST(AnswersTest, ScoreIsWrittenInTheBriefsShape) {
  EXPECT_EQ(to_json(a_score()), R"({"subject":"plate:NY:A","score":7,"tier":"warning","events":2,)"
                                R"("at":"2025-03-01T00:00:00Z"})");
  const auto back = parse_answer<ScoreAnswer>(to_json(a_score()));
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(back->subject, "plate:NY:A");
  EXPECT_EQ(back->score, 7);
  EXPECT_EQ(back->tier, "warning");
  EXPECT_EQ(back->events, 2u);
  EXPECT_EQ(back->at_ms, kMarch1);
}

TEST(AnswersTest, ExplainListsEachGroupAndNeverExpiringIsNull) {
  ExplainAnswer answer{a_score(), {a_contribution(false)}, {}, {a_contribution(true)}, {}};
  answer.pending_revokes.push_back({"r9", "e9", "court", "appeal", kMarch1, ""});
  const std::string json = to_json(answer);
  EXPECT_EQ(json,
            R"({"subject":"plate:NY:A","score":7,"tier":"warning","events":2,)"
            R"("at":"2025-03-01T00:00:00Z",)"
            R"("contributions":[{"id":"e1","type":"red_light","points":3,)"
            R"("time":"2025-03-01T00:00:00Z","expires":null,"source":"cam-9","rules_version":2}],)"
            R"("inactive":[],)"
            R"("revoked":[{"id":"e1","type":"red_light","points":3,"time":"2025-03-01T00:00:00Z",)"
            R"("expires":"2025-03-01T00:00:00.001Z","source":"cam-9","rules_version":2,)"
            R"("revoked_by":"revoke:e1","revoke_source":"court","revoke_reason":"misread",)"
            R"("revoked_at":"2025-03-02T00:00:00Z"}],)"
            R"("pending_revokes":[{"id":"r9","revokes":"e9","source":"court","reason":"appeal",)"
            R"("time":"2025-03-01T00:00:00Z"}]})");
  const auto back = parse_answer<ExplainAnswer>(json);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(to_json(*back), json);
  EXPECT_EQ(back->contributions.at(0).expires_ms, kNever);
  EXPECT_TRUE(back->revoked.at(0).revoked);
  EXPECT_EQ(back->revoked.at(0).revocation.by, "revoke:e1");
}

TEST(AnswersTest, HistoryWritesOnlyEachMomentsOwnFields) {
  using What = TimelineEntry::What;
  HistoryAnswer answer{a_score(), {}};
  const TimelineEntry accepted{.time_ms = kMarch1,
                               .what = What::kAccepted,
                               .id = "e1",
                               .type = "red_light",
                               .points = 3,
                               .rules_version = 1,
                               .source = "cam",
                               .revoked = true,
                               .score = 3};
  const TimelineEntry tier{.time_ms = kMarch1,
                           .what = What::kTier,
                           .from = "clear",
                           .to = "warning",
                           .cause = "e1",
                           .score = 3};
  const TimelineEntry expires{
      .time_ms = kMarch1 + 1000, .what = What::kExpires, .id = "e1", .points = -3};
  const TimelineEntry pending{.time_ms = kMarch1,
                              .what = What::kRevokePending,
                              .id = "r",
                              .source = "court",
                              .reason = "why",
                              .revokes = "x"};
  const TimelineEntry revoked{.time_ms = kMarch1,
                              .what = What::kRevoked,
                              .id = "e1",
                              .source = "court",
                              .by = "r",
                              .reason = "why"};
  answer.timeline = {accepted, tier, expires, pending, revoked};
  const std::string json = to_json(answer);
  EXPECT_NE(json.find(R"({"time":"2025-03-01T00:00:00Z","what":"accepted","id":"e1",)"
                      R"("type":"red_light","points":3,"rules_version":1,"source":"cam",)"
                      R"("expires":null,"revoked":true,"score":3})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"time":"2025-03-01T00:00:00Z","what":"tier","from":"clear",)"
                      R"("to":"warning","cause":"e1","by_expiry":false,"score":3})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"time":"2025-03-01T00:00:01Z","what":"expires","id":"e1",)"
                      R"("points":-3,"score":0})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"time":"2025-03-01T00:00:00Z","what":"revoke_pending","id":"r",)"
                      R"("revokes":"x","source":"court","reason":"why"})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"time":"2025-03-01T00:00:00Z","what":"revoked","id":"e1","by":"r",)"
                      R"("source":"court","reason":"why","score":0})"),
            std::string::npos)
      << json;
  const auto back = parse_answer<HistoryAnswer>(json);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(to_json(*back), json);
}

TEST(AnswersTest, TopStatsWorkersAndSnapshotRoundTrip) {
  const TopAnswer top{Order::kLowest, 2, kMarch1, {{"a", 1, "clear"}, {"b", 2, ""}}};
  EXPECT_EQ(to_json(top),
            R"({"order":"lowest","n":2,"at":"2025-03-01T00:00:00Z","subjects":[)"
            R"({"subject":"a","score":1,"tier":"clear"},{"subject":"b","score":2,"tier":""}]})");
  EXPECT_EQ(to_json(*parse_answer<TopAnswer>(to_json(top))), to_json(top));

  StatsAnswer stats;
  stats.received = 12;
  stats.accepted = 7;
  stats.duplicates = 2;
  stats.rejected_total = 3;
  stats.rejected = {{"bad_time", 1}, {"unknown_type", 2}};
  stats.subjects = 4;
  stats.rules_version = 1;
  WorkerStats worker;
  worker.worker = 0;
  worker.accepted = 7;
  worker.busy_seconds = 0.25;
  worker.journal_records = 9;
  stats.workers = {worker};
  const std::string json = to_json(stats);
  EXPECT_EQ(json,
            R"({"received":12,"accepted":7,"duplicates":2,"rejected_total":3,)"
            R"("rejected":{"bad_time":1,"unknown_type":2},"subjects":4,"rules_version":1,)"
            R"("workers":[{"worker":0,"accepted":7,"duplicates":0,"subjects":0,"queue_depth":0,)"
            R"("busy_seconds":0.250000,"memory_bytes":0,"recovered":0,"journal":{"records":9,)"
            R"("bytes":0,"syncs":0,"errors":0,"pending_bytes":0}}]})");
  const auto back = parse_answer<StatsAnswer>(json);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(to_json(*back), json);
  EXPECT_EQ(back->totals().processed(), 12u);

  WorkersAnswer workers;
  workers.workers = 1;
  workers.per_worker.push_back({0, 0.4567, 12, 300, 4096});
  EXPECT_EQ(to_json(workers), R"({"workers":1,"per_worker":[{"worker":0,"utilisation":0.457,)"
                              R"("queue_depth":12,"subjects":300,"key_groups":4096}]})");
  workers.rescale = RescaleStatus{"failed", 1, 3, 2730, 256, 1000, 0.25, 0.0071, "stopped"};
  const std::string rescaling = to_json(workers);
  EXPECT_NE(rescaling.find(R"("rescale":{"state":"failed","from":1,"to":3,"groups_total":2730,)"
                           R"("groups_moved":256,"subjects_moved":1000,"seconds":0.250,)"
                           R"("longest_pause_seconds":0.007,"error":"stopped"})"),
            std::string::npos)
      << rescaling;
  const auto workers_back = parse_answer<WorkersAnswer>(rescaling);
  ASSERT_TRUE(workers_back) << workers_back.status().to_string();
  EXPECT_EQ(to_json(*workers_back), rescaling);
  EXPECT_EQ(parse_answer<WorkersAnswer>(R"({"workers":3})")->workers, 3u);
  ImpactAnswer impact;
  impact.file = "new.toml";
  impact.at_ms = 1'704'067'200'000;
  impact.subjects = 3;
  impact.tiers_now = {"clear", "warning"};
  impact.tiers_proposed = {"clear"};
  impact.transitions = {{"warning", "clear", 2}, {"", "clear", 1}};
  impact.delta = {-4, -4, -1, 0, 2, 1, 2};
  api::ImpactSubject moved;
  moved.subject = "a,b";
  moved.score_now = 7;
  moved.tier_now = "warning";
  moved.types = {"fine"};
  impact.top = {moved};
  impact.types = {{"fine", 2, 1, 6, 5, true, true, true},
                  {"camera", 0, 0, 0, 0, true, false, false}};
  impact.rows = std::vector<ImpactRow>{moved};
  const std::string impact_json = to_json(impact);
  const auto impact_back = parse_answer<ImpactAnswer>(impact_json);
  ASSERT_TRUE(impact_back) << impact_back.status().to_string();
  EXPECT_EQ(to_json(*impact_back), impact_json);
  const SnapshotAnswer snapshot{7, 100, 2048, 0.5, 0.0125};
  EXPECT_EQ(to_json(snapshot), R"({"snapshot":7,"records":100,"bytes":2048,"seconds":0.500,)"
                               R"("longest_pause_seconds":0.013})");
  EXPECT_EQ(parse_answer<SnapshotAnswer>(to_json(snapshot))->records, 100u);
}

TEST(AnswersTest, AnAlertIdNamesTheTierChangeNotTheNodeThatNumberedIt) {
  const AlertBody alert{7, "plate:NY:A", "", "warning", 6, "e2", 1'714'608'000'000, false};
  const std::string id = alert_id(alert);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  AlertBody renumbered = alert;
  renumbered.seq = 9001;         // another replica's seq...
  renumbered.time_ms += 60'000;  // ...and its event clock when it applied the event
  EXPECT_EQ(alert_id(renumbered), id);
  // Anything that makes it another change makes another id.
  const auto differs = [&](auto change) {
    AlertBody other = alert;
    change(other);
    return alert_id(other) != id;
  };
  EXPECT_TRUE(differs([](AlertBody& a) { a.subject = "plate:NY:B"; }));
  EXPECT_TRUE(differs([](AlertBody& a) { a.from = "clear"; }));
  EXPECT_TRUE(differs([](AlertBody& a) { a.to = "suspended"; }));
  EXPECT_TRUE(differs([](AlertBody& a) { a.event = "e3"; }));
  EXPECT_TRUE(differs([](AlertBody& a) { a.by_expiry = true; }));
  // Fields are separated: moving a character from one to the next is another change.
  EXPECT_TRUE(differs([](AlertBody& a) {
    a.subject = "plate:NY:";
    a.from = "A";
  }));
}

TEST(AnswersTest, AnAlertBodyAndTheAlertsAnswerRoundTrip) {
  const AlertBody alert{7, "plate:NY:\"A\"", "", "warning", 6, "e2", 1'714'608'000'000, false};
  const std::string body = to_json(alert);
  EXPECT_EQ(body, R"({"seq":7,"id":")" + alert_id(alert) +
                      R"(","subject":"plate:NY:\"A\"","from":"","to":"warning","score":6,)"
                      R"("event":"e2","time":"2024-05-02T00:00:00Z","cause":"event"})");
  EXPECT_EQ(*parse_alert(body), alert);
  AlertBody expiry = alert;
  expiry.by_expiry = true;
  EXPECT_EQ(*parse_alert(to_json(expiry)), expiry);
  EXPECT_FALSE(parse_alert(R"({"seq":1})"));
  EXPECT_FALSE(parse_alert(R"({"seq":1,"subject":"s","from":"","to":"t","score":1,"event":"e",)"
                           R"("time":"2024-05-02T00:00:00Z","cause":"guess"})"));

  const std::string answer = alerts_json({body, to_json(expiry)}, 9, 3, 12, 2);
  const auto back = parse_answer<AlertsAnswer>(answer);
  ASSERT_TRUE(back) << back.status().to_string();
  EXPECT_EQ(back->alerts, (std::vector<AlertBody>{alert, expiry}));
  EXPECT_EQ(back->next, 9u);
  EXPECT_EQ(back->oldest, 3u);
  EXPECT_EQ(back->last, 12u);
  EXPECT_EQ(back->missed, 2u);
}

// The bytes of earlier releases, kept here as text: subscribers and the logs
// already written hold them, and the daemon writes alerts without to_json's
// AlertBody, so both ways must give exactly these. Escapes, invalid UTF-8
// (U+FFFD), extreme numbers and times outside RFC 3339's years included.
TEST(AnswersTest, AnAlertBodyIsWrittenAsItAlwaysWas) {
  struct Case {
    AlertBody alert;
    std::string_view json;
  };
  const Case cases[] = {
      {{7, "plate:NY:A", "", "warning", 6, "e2", 1'714'608'000'000, false},
       R"({"seq":7,"id":"2335d9cbaa82c3cd","subject":"plate:NY:A","from":"","to":"warning")"
       R"(,"score":6,"event":"e2","time":"2024-05-02T00:00:00Z","cause":"event"})"},
      {{1, "plate:NY:\"A\"\\b", "warning", "suspended", -3, "e\n1\x01", 1'714'608'000'250, true},
       R"({"seq":1,"id":"67c9d38aee5da54b","subject":"plate:NY:\"A\"\\b","from":"warning","to":"suspended")"
       R"(,"score":-3,"event":"e\n1\u0001","time":"2024-05-02T00:00:00.250Z","cause":"expiry"})"},
      {{18446744073709551615ULL, "person:\xC3\xA9t\xE9", "clear", "",
        std::numeric_limits<std::int64_t>::min(), "", 0, false},
       // "é" is kept; the lone \xE9 (not UTF-8) becomes U+FFFD.
       R"({"seq":18446744073709551615,"id":"e31cc7a0237e06da","subject":"person:)"
       "\xC3\xA9t\xEF\xBF\xBD"
       R"(","from":"clear","to":"","score":-9223372036854775808,"event":"")"
       R"(,"time":"1970-01-01T00:00:00Z","cause":"event"})"},
      {{42, "org:x", "a", "b", std::numeric_limits<std::int64_t>::max(), "id-1", -1, true},
       R"({"seq":42,"id":"5613776c64c79867","subject":"org:x","from":"a","to":"b")"
       R"(,"score":9223372036854775807,"event":"id-1","time":"1969-12-31T23:59:59.999Z","cause":"expiry"})"},
      {{3, "s", "t1", "t2", 0, "ev", kEarliestTimeMs, false},
       R"({"seq":3,"id":"a40b8c46dcbd1eb6","subject":"s","from":"t1","to":"t2")"
       R"(,"score":0,"event":"ev","time":"0000-01-01T00:00:00Z","cause":"event"})"},
      {{4, "s", "t1", "t2", 0, "ev", kLatestTimeMs, false},
       R"({"seq":4,"id":"a40b8c46dcbd1eb6","subject":"s","from":"t1","to":"t2")"
       R"(,"score":0,"event":"ev","time":"9999-12-31T23:59:59.999Z","cause":"event"})"},
      {{5, "s", "t1", "t2", 0, "ev", kLatestTimeMs + 1, false},
       R"({"seq":5,"id":"a40b8c46dcbd1eb6","subject":"s","from":"t1","to":"t2")"
       R"(,"score":0,"event":"ev","time":"10000-01-01T00:00:00Z","cause":"event"})"},
      {{6, "s", "t1", "t2", 0, "ev", kEarliestTimeMs - 1, true},
       R"({"seq":6,"id":"0ce5b3b0bad52ca3","subject":"s","from":"t1","to":"t2")"
       R"(,"score":0,"event":"ev","time":"-0001-12-31T23:59:59.999Z","cause":"expiry"})"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(to_json(c.alert), c.json);
    std::string appended = "kept:";
    append_alert_json(appended, view_of(c.alert));
    EXPECT_EQ(appended, "kept:" + std::string(c.json));
    const AlertId digits = alert_id_digits(view_of(c.alert));
    EXPECT_EQ(std::string(digits.data(), digits.size()), alert_id(c.alert));
    EXPECT_NE(c.json.find(alert_id(c.alert)), std::string_view::npos);
  }
}

TEST(AnswersTest, StatsAreReadLenientlyForOtherVersions) {
  const auto totals =
      parse_answer<StatsAnswer>(R"({"accepted":1,"duplicates":0,"rejected":{"a":2,"b":3}})");
  ASSERT_TRUE(totals) << totals.status().to_string();
  EXPECT_EQ(totals->rejected_total, 5u);
  EXPECT_EQ(totals->received, 0u);
  EXPECT_EQ(parse_answer<StatsAnswer>(R"({"accepted":1,"duplicates":0})")->rejected_total, 0u);
  EXPECT_FALSE(parse_answer<StatsAnswer>(R"({"accepted":1})"));
  EXPECT_FALSE(parse_answer<StatsAnswer>("not json"));
  EXPECT_FALSE(parse_answer<StatsAnswer>("[1,2]"));
}

TEST(AnswersTest, AReloadSaysWhetherItTookAndWhereARefusedFileBreaks) {
  EXPECT_EQ(to_json(ReloadAnswer::loaded(2, 14, "rules.toml")),
            R"({"reloaded":true,"version":2,"rules":14,"file":"rules.toml"})");
  EXPECT_EQ(parse_answer<ReloadAnswer>(to_json(ReloadAnswer::loaded(2, 14, "r")))->rules, 14u);
  const ReloadAnswer refused = ReloadAnswer::refused(
      Status::invalid_at({"rules.toml", 4, 9}, "`points` must be an integer"));
  const std::string json = to_json(refused);
  EXPECT_EQ(json, R"({"reloaded":false,"error":{"code":"rules_refused",)"
                  R"("message":"rules.toml:4:9: `points` must be an integer","file":"rules.toml",)"
                  R"("line":4,"column":9,"reason":"`points` must be an integer"}})");
  const auto back = parse_answer<ReloadAnswer>(json);
  ASSERT_FALSE(back);
  EXPECT_EQ(error_code_of(back.status()), ErrorCode::kRulesRefused);
  EXPECT_EQ(back.status().message(), "rules.toml:4:9: `points` must be an integer");
}

TEST(AnswersTest, AnErrorAnswerComesBackAsItsRefusal) {
  const std::string json = error_json(refusal(ErrorCode::kBadTime, "`at` \"soon\""));
  EXPECT_EQ(json, R"({"error":{"code":"bad_time","message":"`at` \"soon\""}})");
  const auto back = parse_answer<ScoreAnswer>(json);
  ASSERT_FALSE(back);
  EXPECT_EQ(error_code_of(back.status()), ErrorCode::kBadTime);
  EXPECT_EQ(back.status().message(), "`at` \"soon\"");
  // A code from a newer daemon is kept as text.
  const auto unknown =
      parse_answer<ScoreAnswer>(R"({"error":{"code":"relocated","message":"to b"}})");
  ASSERT_FALSE(unknown);
  EXPECT_FALSE(error_code_of(unknown.status()));
  EXPECT_EQ(unknown.status().message(), "relocated: to b");
  // Not an answer of that kind at all.
  EXPECT_FALSE(parse_answer<ScoreAnswer>(R"({"workers":3})"));
}

TEST(AnswersTest, AMovedErrorNamesThePartitionAndItsOwnersAndReadsAsAnyError) {
  const std::string json = to_json(MovedError{"s is in partition 5", 5, {"a", "b"}});
  EXPECT_EQ(
      json,
      R"({"error":{"code":"moved","message":"s is in partition 5","partition":5,"owners":["a","b"]}})");
  const auto moved = parse_moved(json);
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(moved->partition, 5u);
  EXPECT_EQ(moved->owners, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(moved->message, "s is in partition 5");
  // Read as an answer, it is the refusal `moved` with its message.
  const auto back = parse_answer<ScoreAnswer>(json);
  ASSERT_FALSE(back);
  EXPECT_EQ(error_code_of(back.status()), ErrorCode::kMoved);
  EXPECT_EQ(back.status().message(), "s is in partition 5");
  EXPECT_FALSE(parse_moved(error_json(refusal(ErrorCode::kBusy, "x"))));
  EXPECT_FALSE(parse_moved(R"({"subject":"s","score":1})"));
}

}  // namespace
}  // namespace tally::api
