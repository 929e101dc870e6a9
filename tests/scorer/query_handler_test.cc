// The query service against a real engine, without sockets: every op typed,
// and the JSON tallyd answers for requests given as text.
#include "scorer/query_handler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/event_time.h"
#include "core/work_queue.h"
#include "stream/event_decoder.h"
#include "tests/scorer/engine_feeder.h"
#include "tests/support/files.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;

std::int64_t at(const char* rfc3339) { return *parse_rfc3339_ms(rfc3339); }

class QueryHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_rules(testing::kSmallProfile);
    auto loaded = load_rules_file((dir_ / "rules.toml").string(), 1);
    ASSERT_TRUE(loaded) << loaded.status().to_string();
    ScorerOptions options;
    options.workers = 3;
    options.rules_path = (dir_ / "rules.toml").string();
    engine_ = std::make_unique<Engine>(options, *loaded);
    engine_->start();
    ingest_.received = 9;
    ingest_.rejected[static_cast<std::size_t>(RejectReason::kBadTime)] = 2;
    handler_ = std::make_unique<QueryHandler>(*engine_, &ingest_);
  }
  void TearDown() override {
    handler_.reset();
    engine_->stop();
  }

  void write_rules(const std::string& text) { std::ofstream(dir_ / "rules.toml") << text; }

  // Routes NDJSON as the ingest thread does and returns once every worker has
  // applied it (a stats command on the same queue row queues behind the events).
  void send(const std::string& ndjson) {
    testing::feed(*engine_, decoder_, ndjson);
    (void)engine_->stats(QueueRow::kIngest);
  }

  tally::testing::TempDir scratch_{"query"};
  fs::path dir_ = scratch_.path();
  std::unique_ptr<Engine> engine_;
  IngestCounters ingest_;
  std::unique_ptr<QueryHandler> handler_;
  stream::EventDecoder decoder_;
};

constexpr const char* kTraffic =
    R"({"id":"f1","subject":"a","type":"fine","time":"2024-01-01T00:00:00Z","source":"cam-1"})"
    "\n"
    R"({"id":"f2","subject":"a","type":"fine","time":"2024-01-02T00:00:00Z"})"
    "\n"
    R"({"id":"c1","subject":"a","type":"credit","time":"2024-01-03T00:00:00Z"})"
    "\n"
    R"({"id":"r1","subject":"a","type":"revoke","revokes":"c1","time":"2024-01-04T00:00:00Z","source":"court","attrs":{"reason":"upheld"}})"
    "\n"
    R"({"id":"r2","subject":"a","type":"revoke","revokes":"later","time":"2024-01-05T00:00:00Z"})"
    "\n"
    R"({"id":"b1","subject":"b","type":"credit","time":"2024-01-01T00:00:00Z"})"
    "\n"
    R"({"id":"c9","subject":"c","type":"fine","time":"2024-01-20T00:00:00Z"})"
    "\n";

TEST_F(QueryHandlerTest, ScoreIsClampedTieredAndAnsweredForAnyTime) {
  send(kTraffic);
  const api::ScoreAnswer now = handler_->score({"a", std::nullopt});
  // Now is the largest event time (clock = "event"): f1 and f2 have expired.
  EXPECT_EQ(now.at_ms, at("2024-01-20T00:00:00Z"));
  EXPECT_EQ(now.score, 10);
  EXPECT_EQ(now.events, 0u);
  const api::ScoreAnswer then = handler_->score({"a", at("2024-01-03T12:00:00Z")});
  EXPECT_EQ(then.score, 18);  // 10 + 4 + 4; the credit was revoked
  EXPECT_EQ(then.tier, "high");
  EXPECT_EQ(then.events, 2u);
  const api::ScoreAnswer unknown = handler_->score({"nobody", std::nullopt});
  EXPECT_EQ(unknown.score, 10);
  EXPECT_EQ(unknown.events, 0u);
  EXPECT_EQ(unknown.tier, "low");
}

TEST_F(QueryHandlerTest, ExplainSortsContributionsIntoTheirGroups) {
  send(kTraffic);
  const api::ExplainAnswer answer = handler_->explain({"a", at("2024-01-02T12:00:00Z")});
  EXPECT_EQ(answer.score.score, 18);
  ASSERT_EQ(answer.contributions.size(), 2u);
  EXPECT_EQ(answer.contributions[0].id, "f1");
  EXPECT_EQ(answer.contributions[0].source, "cam-1");
  EXPECT_EQ(answer.contributions[0].rules_version, 1u);
  EXPECT_EQ(answer.contributions[0].expires_ms, at("2024-01-11T00:00:00Z"));
  EXPECT_TRUE(answer.inactive.empty());
  ASSERT_EQ(answer.revoked.size(), 1u);
  EXPECT_EQ(answer.revoked[0].id, "c1");
  EXPECT_EQ(answer.revoked[0].expires_ms, kNever);
  EXPECT_EQ(answer.revoked[0].revocation.by, "r1");
  EXPECT_EQ(answer.revoked[0].revocation.source, "court");
  EXPECT_EQ(answer.revoked[0].revocation.reason, "upheld");
  ASSERT_EQ(answer.pending_revokes.size(), 1u);
  EXPECT_EQ(answer.pending_revokes[0].revokes, "later");
  // Later, the fines no longer count but are still explained.
  EXPECT_EQ(handler_->explain({"a", std::nullopt}).inactive.size(), 2u);
}

TEST_F(QueryHandlerTest, HistoryIsInTimeOrderWithTheScoreAfterEachMoment) {
  send(kTraffic);
  const api::HistoryAnswer answer = handler_->history({"a"});
  std::vector<std::string> lines;
  for (const api::TimelineEntry& e : answer.timeline) {
    lines.push_back(format_rfc3339_ms(e.time_ms) + " " + std::string(to_string(e.what)) + " " +
                    (e.what == api::TimelineEntry::What::kTier ? e.from + "->" + e.to : e.id) +
                    " " + std::to_string(e.score));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "2024-01-01T00:00:00Z accepted f1 14",
                       "2024-01-02T00:00:00Z accepted f2 18",
                       "2024-01-02T00:00:00Z tier low->high 18",
                       "2024-01-03T00:00:00Z accepted c1 18",
                       "2024-01-04T00:00:00Z revoked c1 18",
                       "2024-01-05T00:00:00Z revoke_pending r2 0",
                       "2024-01-11T00:00:00Z expired f1 14",
                       "2024-01-11T00:00:00Z tier high->low 14",
                       "2024-01-12T00:00:00Z expired f2 10",
                   }));
  EXPECT_TRUE(answer.timeline[3].revoked);
  EXPECT_EQ(answer.timeline[6].points, -4);
}

TEST_F(QueryHandlerTest, TopMergesEveryWorkerAndBreaksTiesBySubject) {
  send(kTraffic);
  send(R"({"id":"d1","subject":"d","type":"fine","time":"2024-01-20T00:00:00Z"})"
       "\n");
  const api::TopAnswer highest = handler_->top({2, api::Order::kHighest});
  ASSERT_EQ(highest.subjects.size(), 2u);
  EXPECT_EQ(highest.subjects[0].subject, "c");  // c and d tie at 14: by subject
  EXPECT_EQ(highest.subjects[1].subject, "d");
  EXPECT_EQ(highest.subjects[0].score, 14);
  EXPECT_EQ(highest.subjects[0].tier, "low");
  EXPECT_EQ(highest.n, 2u);
  const api::TopAnswer lowest = handler_->top({10, api::Order::kLowest});
  ASSERT_EQ(lowest.subjects.size(), 4u);
  EXPECT_EQ(lowest.subjects[0].subject, "b");
  EXPECT_EQ(lowest.subjects[0].score, 7);
  EXPECT_EQ(lowest.order, api::Order::kLowest);
}

TEST_F(QueryHandlerTest, StatsSumWorkersAndNameEveryRejectReason) {
  send(kTraffic);
  const api::StatsAnswer stats = handler_->stats();
  EXPECT_EQ(stats.accepted, 7u);
  EXPECT_EQ(stats.received, 9u);
  EXPECT_EQ(stats.rejected_total, 2u);
  EXPECT_EQ(stats.rejected.size(), kRejectReasonCount);
  EXPECT_EQ(stats.subjects, 3u);
  EXPECT_EQ(stats.rules_version, 1u);
  ASSERT_EQ(stats.workers.size(), 3u);
  std::uint64_t accepted = 0;
  for (const api::WorkerStats& worker : stats.workers) accepted += worker.accepted;
  EXPECT_EQ(accepted, 7u);
  EXPECT_EQ(stats.totals().processed(), 9u);

  QueryHandler without_ingest(*engine_, nullptr);
  EXPECT_TRUE(without_ingest.stats().rejected.empty());
}

TEST_F(QueryHandlerTest, ReloadTakesAGoodFileAndKeepsTheRulesOnABadOne) {
  const api::ReloadAnswer loaded = handler_->reload();
  EXPECT_TRUE(loaded.reloaded);
  EXPECT_EQ(loaded.version, 2u);
  EXPECT_EQ(loaded.rules, 2u);
  write_rules("[rules.fine]\npoints = 4\nexpires_after = \"soon\"\n");
  const api::ReloadAnswer refused = handler_->reload();
  EXPECT_FALSE(refused.reloaded);
  ASSERT_NE(refused.refusal.place(), nullptr);
  EXPECT_EQ(refused.refusal.place()->line, 3u);
  EXPECT_NE(refused.file.find("rules.toml"), std::string::npos);
  EXPECT_EQ(handler_->stats().rules_version, 2u);
  const std::string json = handler_->handle(R"({"op":"reload"})");
  EXPECT_NE(json.find(R"("code":"rules_refused")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("line":3,)"), std::string::npos) << json;
}

TEST_F(QueryHandlerTest, WorkersAndSnapshotRefuseWhatThisDaemonCannotDo) {
  const auto now = handler_->workers({std::nullopt});
  ASSERT_TRUE(now);
  EXPECT_EQ(now->workers, 3u);
  ASSERT_EQ(now->per_worker.size(), 3u);
  EXPECT_EQ(now->per_worker[1].key_groups, 1365u);
  EXPECT_FALSE(now->rescale);
  ASSERT_TRUE(handler_->workers({3}));  // nothing to move: it ends at once
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (engine_->rescaling() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(handler_->workers({std::nullopt})->rescale->state, "done");
  const auto out_of_range = handler_->workers({0});
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(api::error_code_of(out_of_range.status()), api::ErrorCode::kBadField);
  // No ingest thread here applies route waves: the change to 5 waits for
  // one, so a second change is refused, deterministically.
  const auto change = handler_->workers({5});
  ASSERT_TRUE(change);
  EXPECT_EQ(change->rescale->state, "running");
  const auto second = handler_->workers({4});
  ASSERT_FALSE(second);
  EXPECT_EQ(api::error_code_of(second.status()), api::ErrorCode::kBusy);
  EXPECT_NE(second.status().message().find("a change from 3 to 5 workers is running"),
            std::string::npos)
      << second.status().message();
  engine_->stop_rescale();
  EXPECT_EQ(handler_->workers({std::nullopt})->rescale->state, "failed");
  const auto snapshot = handler_->snapshot();  // no journal
  ASSERT_FALSE(snapshot);
  EXPECT_EQ(api::error_code_of(snapshot.status()), api::ErrorCode::kNotSupported);
}

TEST_F(QueryHandlerTest, AnImpactAndAWorkerCountChangeExcludeEachOther) {
  send(kTraffic);
  api::ImpactRequest request;
  request.rules = testing::kSmallProfile;
  const auto alone = handler_->impact(request);
  ASSERT_TRUE(alone) << alone.status().to_string();
  EXPECT_EQ(alone->subjects, 3u);
  EXPECT_EQ(alone->changed_score, 0u);  // the same rules: nothing changes

  // No ingest thread here applies route waves: the change to 4 stays running.
  ASSERT_TRUE(handler_->workers({4}));
  const auto during = handler_->impact(request);
  ASSERT_FALSE(during);
  EXPECT_EQ(api::error_code_of(during.status()), api::ErrorCode::kBusy);
  EXPECT_NE(during.status().message().find("a change from 3 to 4 workers"), std::string::npos);
  engine_->stop_rescale();

  ASSERT_TRUE(engine_->try_begin_impact().is_ok());
  const auto change = handler_->workers({2});
  ASSERT_FALSE(change);
  EXPECT_EQ(api::error_code_of(change.status()), api::ErrorCode::kBusy);
  EXPECT_NE(change.status().message().find("impact"), std::string::npos);
  engine_->end_impact();

  request.rules = "[score]\nbase = \"high\"\n";
  request.file = "proposal.toml";
  const auto refused = handler_->impact(request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(api::error_code_of(refused.status()), api::ErrorCode::kRulesRefused);
  EXPECT_NE(refused.status().message().find("proposal.toml:2:"), std::string::npos)
      << refused.status().message();
}

TEST_F(QueryHandlerTest, TextInTextOutWithNamedErrors) {
  send(kTraffic);
  EXPECT_EQ(handler_->handle(R"({"op":"score","subject":"b","at":"2024-01-02T00:00:00Z"})"),
            R"({"subject":"b","score":7,"tier":"low","events":1,"at":"2024-01-02T00:00:00Z"})");
  EXPECT_EQ(handler_->handle(R"({"op":"workers"})").rfind(R"({"workers":3,"per_worker":[)", 0), 0u);
  EXPECT_EQ(handler_->handle(R"({"op":"top","n":1,"order":"lowest"})"),
            R"({"order":"lowest","n":1,"at":"2024-01-20T00:00:00Z",)"
            R"("subjects":[{"subject":"b","score":7,"tier":"low"}]})");
  EXPECT_EQ(handler_->handle(R"({"op":"score","subject":"x","at":"soon"})"),
            R"({"error":{"code":"bad_time","message":"`at` must be an RFC 3339 time or an )"
            R"(integer of epoch milliseconds"}})");
  EXPECT_EQ(handler_->handle("{"),
            R"({"error":{"code":"bad_request","message":"the request is not valid JSON"}})");
  EXPECT_NE(handler_->handle(R"({"op":"workers","set":4097})").find(R"("code":"bad_field")"),
            std::string::npos);
  // A typed request answers as its text would.
  EXPECT_EQ(handler_->handle(api::Request(api::HistoryRequest{"b"})),
            handler_->handle(R"({"op":"history","subject":"b"})"));
}

// A subject of partition `wanted` of `partitions`, found by name.
std::string subject_in(std::uint32_t wanted, std::uint32_t partitions) {
  for (int i = 0;; ++i) {
    std::string subject = "plate:NY:" + std::to_string(i);
    if (partition_of_subject(subject, partitions) == wanted) return subject;
  }
}

TEST_F(QueryHandlerTest, ANodeOwningPartOfTheStreamAnswersMovedForTheRestNamingTheOwners) {
  send(kTraffic);
  auto owned = PartitionSet::parse("0-3", 8);
  ASSERT_TRUE(owned);
  std::vector<std::uint32_t> asked;
  handler_->set_ownership({*owned, "h", [&](std::uint32_t partition) {
                             asked.push_back(partition);
                             return std::vector<std::string>{"a", "b"};
                           }});
  const std::string mine = subject_in(2, 8);
  const std::string theirs = subject_in(5, 8);
  EXPECT_EQ(handler_->handle(R"({"op":"score","subject":")" + mine + R"("})").find("error"),
            std::string::npos);
  for (const char* op : {"score", "explain", "history"}) {
    const std::string answer =
        handler_->handle(std::string(R"({"op":")") + op + R"(","subject":")" + theirs + R"("})");
    EXPECT_EQ(answer, R"({"error":{"code":"moved","message":")" + theirs +
                          R"( is in partition 5, not owned by node h (it owns 0-3); owners: a, b",)"
                          R"("partition":5,"owners":["a","b"]}})")
        << op;
  }
  EXPECT_EQ(asked, (std::vector<std::uint32_t>{5, 5, 5}));
  // Ops that name no subject are this node's own answers.
  EXPECT_EQ(handler_->handle(R"({"op":"top","n":1})").find("error"), std::string::npos);

  // Owners not known yet: the partition and this node's set still say where not to ask.
  handler_->set_ownership({*owned, "h", {}});
  const auto moved = handler_->moved(theirs);
  ASSERT_TRUE(moved);
  EXPECT_TRUE(moved->owners.empty());
  EXPECT_NE(moved->message.find("no owner known yet"), std::string::npos) << moved->message;

  // Owning every partition: nothing is moved.
  handler_->set_ownership({PartitionSet::all(8), "a", {}});
  EXPECT_FALSE(handler_->moved(theirs));
}

}  // namespace
}  // namespace tally::scorer
