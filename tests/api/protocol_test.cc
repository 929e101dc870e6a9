// Requests: parsing as tallyd does, refusals by name, and the JSON clients send.
#include "api/protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tally::api {
namespace {

// The code a refused request gets, or "" when it parses.
std::string refusal_of(std::string_view json) {
  const Result<Request> request = parse_request(json);
  if (request) return "";
  const auto code = error_code_of(request.status());
  return code ? std::string(to_string(*code)) : "not a refusal: " + request.status().to_string();
}

TEST(ProtocolTest, EveryOpAndCodeHasAStableNameBothWays) {
  for (std::size_t i = 0; i < kOpNames.size(); ++i) {
    const auto op = static_cast<Op>(i);
    EXPECT_EQ(op_named(to_string(op)), op);
  }
  for (std::size_t i = 0; i < kErrorCodeNames.size(); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(error_code_named(to_string(code)), code);
  }
  EXPECT_EQ(to_string(Op::kHistory), "history");
  EXPECT_EQ(to_string(ErrorCode::kMissingField), "missing_field");
  EXPECT_FALSE(op_named("fly"));
  EXPECT_FALSE(error_code_named("oops"));
}

TEST(ProtocolTest, AScoreRequestKeepsItsSubjectAndTime) {
  auto request =
      parse_request(R"({"op":"score","subject":"plate:NY:A","at":"2025-03-01T00:00:00Z"})");
  ASSERT_TRUE(request) << request.status().to_string();
  const auto* score = std::get_if<ScoreRequest>(&*request);
  ASSERT_NE(score, nullptr);
  EXPECT_EQ(score->subject, "plate:NY:A");
  EXPECT_EQ(score->at_ms, 1740787200000);
  request = parse_request(R"({"op":"explain","subject":"p","at":1740787200000,"extra":[1]})");
  ASSERT_TRUE(request);
  EXPECT_EQ(std::get<ExplainRequest>(*request).at_ms, 1740787200000);
  EXPECT_FALSE(std::get<ScoreRequest>(*parse_request(R"({"op":"score","subject":"p"})")).at_ms);
}

TEST(ProtocolTest, TopAndWorkersTakeTheirDefaultsAndLimits) {
  const auto top = parse_request(R"({"op":"top"})");
  ASSERT_TRUE(top);
  EXPECT_EQ(std::get<TopRequest>(*top).n, kDefaultTopN);
  EXPECT_EQ(std::get<TopRequest>(*top).order, Order::kHighest);
  const auto lowest = parse_request(R"({"op":"top","n":10000,"order":"lowest"})");
  ASSERT_TRUE(lowest);
  EXPECT_EQ(std::get<TopRequest>(*lowest).n, kMaxTopN);
  EXPECT_EQ(std::get<TopRequest>(*lowest).order, Order::kLowest);
  EXPECT_FALSE(std::get<WorkersRequest>(*parse_request(R"({"op":"workers"})")).set);
  EXPECT_EQ(std::get<WorkersRequest>(*parse_request(R"({"op":"workers","set":4096})")).set, 4096u);
  const auto alerts = parse_request(R"({"op":"alerts"})");
  ASSERT_TRUE(alerts);
  EXPECT_EQ(std::get<AlertsRequest>(*alerts).since, 0u);
  EXPECT_EQ(std::get<AlertsRequest>(*alerts).limit, kDefaultAlertsLimit);
  const auto most = parse_request(R"({"op":"alerts","since":17,"limit":10000})");
  ASSERT_TRUE(most);
  EXPECT_EQ(std::get<AlertsRequest>(*most).since, 17u);
  EXPECT_EQ(std::get<AlertsRequest>(*most).limit, kMaxAlertsLimit);
  for (const char* bad : {R"({"op":"alerts","limit":0})", R"({"op":"alerts","limit":10001})",
                          R"({"op":"alerts","since":-1})", R"({"op":"alerts","since":"1"})"}) {
    const auto refused = parse_request(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(error_code_of(refused.status()), ErrorCode::kBadField) << bad;
  }
}

TEST(ProtocolTest, EveryRefusalIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "bad_request"},
      {"[1]", "bad_request"},
      {R"({"subject":"x"})", "missing_field"},
      {R"({"op":7})", "bad_field"},
      {R"({"op":"fly"})", "unknown_op"},
      {R"({"op":"score"})", "missing_field"},
      {R"({"op":"history"})", "missing_field"},
      {R"({"op":"score","subject":7})", "bad_field"},
      {R"({"op":"explain","subject":""})", "bad_field"},
      {R"({"op":"score","subject":"x","at":"soon"})", "bad_time"},
      {R"({"op":"score","subject":"x","at":null})", "bad_time"},
      {R"({"op":"score","subject":"x","at":1.5})", "bad_time"},
      {R"({"op":"score","subject":"x","at":18446744073709551615})", "bad_time"},
      {R"({"op":"top","n":0})", "bad_field"},
      {R"({"op":"top","n":10001})", "bad_field"},
      {R"({"op":"top","n":-3})", "bad_field"},
      {R"({"op":"top","order":"sideways"})", "bad_field"},
      {R"({"op":"top","order":1})", "bad_field"},
      {R"({"op":"workers","set":0})", "bad_field"},
      {R"({"op":"workers","set":4097})", "bad_field"},
      {R"({"op":"impact"})", "missing_field"},
      {R"({"op":"impact","rules":7})", "bad_field"},
      {R"({"op":"impact","rules":"","file":""})", "bad_field"},
      {R"({"op":"impact","rules":"","at":"soon"})", "bad_time"},
      {R"({"op":"impact","rules":"","top":0})", "bad_field"},
      {R"({"op":"impact","rules":"","rows":[5,5]})", "bad_field"},
      {R"({"op":"impact","rules":"","rows":[0,4097]})", "bad_field"},
      {R"({"op":"impact","rules":"","rows":"all"})", "bad_field"},
  };
  for (const auto& [json, code] : cases) {
    EXPECT_EQ(refusal_of(json), code) << json;
    EXPECT_FALSE(parse_request(json).status().message().empty()) << json;
  }
  EXPECT_EQ(parse_request(R"({"op":"fly"})").status().message(),
            "unknown op `fly`; expected one of score, explain, history, top, stats, reload, "
            "workers, snapshot, impact, alerts");
}

TEST(ProtocolTest, WhatAClientSendsParsesBackToTheSameRequest) {
  const std::vector<Request> requests = {
      ScoreRequest{"plate:NY:\"quoted\"", 1740787200000},
      ScoreRequest{"s", std::nullopt},
      ExplainRequest{"e", -5},
      HistoryRequest{"h"},
      TopRequest{25, Order::kLowest},
      StatsRequest{},
      ReloadRequest{},
      WorkersRequest{8},
      WorkersRequest{std::nullopt},
      SnapshotRequest{},
      ImpactRequest{"[rules.a]\npoints = 1\n", "new.toml", 7, 20, std::make_pair(64u, 128u)},
      ImpactRequest{"", "proposal.toml", std::nullopt, 10, std::nullopt},
      AlertsRequest{},
      AlertsRequest{123, 10'000},
  };
  for (const Request& request : requests) {
    const std::string json = to_json(request);
    const auto back = parse_request(json);
    ASSERT_TRUE(back) << json << ": " << back.status().to_string();
    EXPECT_EQ(to_json(*back), json);
    EXPECT_EQ(op_of(*back), op_of(request));
  }
  EXPECT_EQ(to_json(ScoreRequest{"a", 5}), R"({"op":"score","subject":"a","at":5})");
  EXPECT_EQ(to_json(TopRequest{}), R"({"op":"top","n":10,"order":"highest"})");
  EXPECT_EQ(to_json(StatsRequest{}), R"({"op":"stats"})");
}

TEST(ProtocolTest, ARefusalIsAStatusThatKeepsItsCode) {
  const Status status = refusal(ErrorCode::kNotSupported, "no journal");
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(error_code_of(status), ErrorCode::kNotSupported);
  EXPECT_EQ(status.message(), "no journal");
  EXPECT_FALSE(error_code_of(Status::busy("x")));
  EXPECT_FALSE(error_code_of(Status()));
}

}  // namespace
}  // namespace tally::api
