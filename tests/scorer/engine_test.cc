// The engine and query API without sockets: events go through the real
// queues and workers; queries through QueryHandler.
#include "scorer/engine.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "core/work_queue.h"
#include "scorer/query_handler.h"
#include "stream/event_decoder.h"
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

TEST_F(EngineTest, WorkersAnswersCountAndRefusesLiveChange) {
  EXPECT_EQ(ask(R"({"op":"workers"})")["workers"].get_int64().value(), 3);
  EXPECT_EQ(ask(R"({"op":"workers","set":5})")["error"]["code"].get_string().value(),
            "not_supported");
}

}  // namespace
}  // namespace tally::scorer
