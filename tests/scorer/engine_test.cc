// The engine and query API without sockets: events go through the real
// queues and workers; queries through QueryHandler.
#include "scorer/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "core/work_queue.h"
#include "scorer/query_handler.h"
#include "stream/batch_router.h"
#include "stream/event_decoder.h"
#include "stream/rejected_log.h"
#include "tests/scorer/engine_feeder.h"

namespace tally::scorer {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = parse_rules(testing::kSmallProfile, "engine_test.toml", 1);
    ASSERT_TRUE(loaded) << loaded.status().to_string();
    ScorerOptions options;
    options.workers = 3;
    engine_ = std::make_unique<Engine>(options, *loaded);
    engine_->start();
    handler_ = std::make_unique<QueryHandler>(*engine_, nullptr);
  }
  void TearDown() override { engine_->stop(); }

  // Decodes NDJSON and routes it as the ingest thread does.
  void send(const std::string& ndjson) { testing::feed(*engine_, decoder_, ndjson); }

  simdjson::dom::element ask(const std::string& request) {
    answer_ = handler_->handle(request);
    return parser_.parse(answer_).value();
  }

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<QueryHandler> handler_;
  stream::EventDecoder decoder_;
  simdjson::dom::parser parser_;
  std::string answer_;
};

TEST_F(EngineTest, ScoreAppliesBaseClampAndTier) {
  send(R"({"id":"1","subject":"a","type":"fine","time":"2024-01-01T00:00:00Z"})"
       "\n"
       R"({"id":"2","subject":"a","type":"fine","time":"2024-01-02T00:00:00Z"})"
       "\n"
       R"({"id":"3","subject":"a","type":"fine","time":"2024-01-03T00:00:00Z"})"
       "\n");
  // Queries travel on another producer row than events, so they may overtake
  // them: wait until all three are applied.
  for (int i = 0; i < 1000; ++i) {
    if (ask(R"({"op":"stats"})")["accepted"].get_uint64().value() == 3) break;
  }
  auto score = ask(R"({"op":"score","subject":"a"})");
  EXPECT_EQ(score["score"].get_int64().value(), 20);  // 10 + 12, clamped to max 20
  EXPECT_EQ(score["tier"].get_string().value(), "high");
  EXPECT_EQ(score["events"].get_int64().value(), 3);
  auto before = ask(R"({"op":"score","subject":"a","at":"2024-01-01T12:00:00Z"})");
  EXPECT_EQ(before["score"].get_int64().value(), 14);
  EXPECT_EQ(before["tier"].get_string().value(), "low");
  auto expired = ask(R"({"op":"score","subject":"a","at":"2024-01-13T00:00:00Z"})");
  EXPECT_EQ(expired["score"].get_int64().value(), 10);
  auto unknown = ask(R"({"op":"score","subject":"nobody"})");
  EXPECT_EQ(unknown["score"].get_int64().value(), 10);
  EXPECT_EQ(unknown["events"].get_int64().value(), 0);
}

TEST_F(EngineTest, ExplainListsActiveInactiveAndRevoked) {
  send(
      R"({"id":"f1","subject":"b","type":"fine","time":"2024-01-01T00:00:00Z","source":"cam-9"})"
      "\n"
      R"({"id":"c1","subject":"b","type":"credit","time":"2024-03-01T00:00:00Z"})"
      "\n"
      R"({"id":"r1","subject":"b","type":"revoke","revokes":"c1","time":"2024-03-02T00:00:00Z","source":"court"})"
      "\n"
      R"({"id":"f2","subject":"b","type":"fine","time":"2024-03-03T00:00:00Z"})"
      "\n");
  for (int i = 0; i < 1000; ++i) {
    if (ask(R"({"op":"stats"})")["accepted"].get_uint64().value() == 4) break;
  }
  auto explain = ask(R"({"op":"explain","subject":"b"})");
  EXPECT_EQ(explain["score"].get_int64().value(), 14);
  ASSERT_EQ(explain["contributions"].get_array().value().size(), 1u);
  EXPECT_EQ(explain["contributions"].at(0)["id"].get_string().value(), "f2");
  ASSERT_EQ(explain["inactive"].get_array().value().size(), 1u);
  EXPECT_EQ(explain["inactive"].at(0)["id"].get_string().value(), "f1");
  EXPECT_EQ(explain["inactive"].at(0)["source"].get_string().value(), "cam-9");
  ASSERT_EQ(explain["revoked"].get_array().value().size(), 1u);
  EXPECT_EQ(explain["revoked"].at(0)["revoked_by"].get_string().value(), "r1");
  EXPECT_EQ(explain["revoked"].at(0)["expires"].is_null(), true);
}

// The test thread is the producer, as the ingest thread is in tallyd: it
// routes batches through a BatchRouter and applies route waves between them.
class EngineRescaleTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    router_ = std::make_unique<stream::BatchRouter>(engine_->queues(), 0, engine_->groups(),
                                                    engine_->done_ticket_queues(), counters_,
                                                    rejected_, [] {});
  }
  void route(int batch) {
    std::string ndjson;
    for (int s = 0; s < kSubjects; ++s) {
      ndjson += fmt::format(
          R"({{"id":"e{}-{}","subject":"s{}","type":"fine","time":"2024-01-01T00:00:00Z"}})"
          "\n",
          batch, s, s);
    }
    router_->begin("test", nullptr);
    decoder_.decode_batch(ndjson, *engine_->types().load(), *router_);
    router_->finish(engine_->event_clock());
    events_ += kSubjects;
  }

  // Routes batches (up to 20 more), applying waves between them, until the
  // change ends.
  int route_until_changed(int batch) {
    const int last = batch + 20;
    while (engine_->rescaling()) {
      router_->apply_route_changes();
      if (batch < last) route(batch++);
    }
    return batch;
  }

  // Every event applied once: each subject lists one contribution a batch.
  void expect_every_event_once(int batches) {
    for (int i = 0; i < 10000; ++i) {
      if (ask(R"({"op":"stats"})")["accepted"].get_uint64().value() == events_) break;
    }
    EXPECT_EQ(ask(R"({"op":"stats"})")["accepted"].get_uint64().value(), events_);
    for (int s = 0; s < kSubjects; s += 7) {
      auto explain = ask(fmt::format(R"({{"op":"explain","subject":"s{}"}})", s));
      EXPECT_EQ(explain["contributions"].get_array().value().size() +
                    explain["inactive"].get_array().value().size(),
                static_cast<std::size_t>(batches))
          << s;
    }
  }

  static constexpr int kSubjects = 500;
  IngestCounters counters_;
  stream::RejectedLog rejected_{stream::RejectsOptions{.path = "/dev/null"}};
  std::unique_ptr<stream::BatchRouter> router_;
  std::uint64_t events_ = 0;
};

TEST_F(EngineRescaleTest, AChangeRunsWhileTheProducerRoutesAndEveryEventCountsOnce) {
  int batch = 0;
  route(batch++);
  ASSERT_TRUE(engine_->rescale(5).is_ok());
  // The producer has not taken the first wave yet: a second change is busy.
  const auto busy = ask(R"({"op":"workers","set":4})");
  EXPECT_EQ(busy["error"]["code"].get_string().value(), "busy");
  EXPECT_NE(std::string(busy["error"]["message"].get_string().value()).find("3 to 5"),
            std::string::npos);
  batch = route_until_changed(batch);
  expect_every_event_once(batch);
  auto workers = ask(R"({"op":"workers"})");
  EXPECT_EQ(workers["workers"].get_int64().value(), 5);
  EXPECT_EQ(workers["rescale"]["state"].get_string().value(), "done");
  for (auto worker : workers["per_worker"].get_array()) {
    EXPECT_NEAR(static_cast<double>(worker["key_groups"].get_int64().value()), 4096.0 / 5, 1);
  }

  ASSERT_TRUE(engine_->rescale(2).is_ok());
  batch = route_until_changed(batch);
  route(batch++);
  expect_every_event_once(batch);
  EXPECT_EQ(ask(R"({"op":"workers"})")["workers"].get_int64().value(), 2);
  // The removed workers' counts stay in the totals.
  EXPECT_EQ(ask(R"({"op":"stats"})")["workers"].get_array().value().size(), 2u);
  const RescaleTotals totals = engine_->rescale_totals();
  EXPECT_EQ(totals.ok, 2u);
  EXPECT_EQ(totals.busy, 1u);
  EXPECT_GT(totals.group_moves, 0u);
}

TEST_F(EngineRescaleTest, AStopWithdrawsAWaveNoProducerTookAndKeepsTheCount) {
  route(0);
  ASSERT_TRUE(engine_->rescale(1).is_ok());
  engine_->stop_rescale();
  const RescaleProgress progress = engine_->rescale_progress();
  EXPECT_EQ(progress.state, RescaleProgress::State::kFailed);
  EXPECT_NE(progress.error.find("stopped"), std::string::npos) << progress.error;
  EXPECT_EQ(engine_->workers(), 3u);
  expect_every_event_once(1);
}

}  // namespace
}  // namespace tally::scorer
