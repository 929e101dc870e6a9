// docs/client.md is checked against api/: every op, field, error code, enum
// value and default endpoint the code knows is named there, and every op and
// error code named there exists. The fields are the keys of what the code
// actually writes (each request and answer, every optional part filled), so
// a field added to a writer and not to the page fails here.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "api/answers.h"
#include "api/endpoints.h"
#include "api/protocol.h"

namespace tally::api {
namespace {

std::string client_doc() {
  std::ifstream in(std::string(TALLY_SOURCE_DIR) + "/docs/client.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every object key in `json`, at any depth.
void collect_keys(simdjson::dom::element element, std::set<std::string>& keys) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (element.get_object().get(object) == simdjson::SUCCESS) {
    for (auto [key, value] : object) {
      keys.emplace(key);
      collect_keys(value, keys);
    }
  } else if (element.get_array().get(array) == simdjson::SUCCESS) {
    for (auto value : array) collect_keys(value, keys);
  }
}

// Each request and answer as the code writes it, with every optional part.
std::vector<std::string> everything_written() {
  std::vector<std::string> out;
  out.push_back(to_json(ScoreRequest{"s", 1}));
  out.push_back(to_json(ExplainRequest{"s", 1}));
  out.push_back(to_json(HistoryRequest{"s"}));
  out.push_back(to_json(TopRequest{}));
  out.push_back(to_json(WorkersRequest{2}));
  out.push_back(to_json(ImpactRequest{"[rules.a]", "new.toml", 1, 5, std::make_pair(0u, 64u)}));

  Contribution revoked;
  revoked.revoked = true;
  revoked.revocation.client = "appeals-office";
  PendingRevoke pending;
  pending.client = "appeals-office";
  out.push_back(to_json(ExplainAnswer{{}, {Contribution{}}, {}, {revoked}, {pending}}));
  HistoryAnswer history;
  for (std::size_t i = 0; i < TimelineEntry::kWhatNames.size(); ++i) {
    TimelineEntry entry;
    entry.what = static_cast<TimelineEntry::What>(i);
    entry.revoked = true;
    entry.client = "appeals-office";
    history.timeline.push_back(entry);
  }
  out.push_back(to_json(history));
  out.push_back(to_json(TopAnswer{Order::kHighest, 1, 0, {RankedSubject{}}}));
  StatsAnswer stats;  // no reasons: their names are the reject reasons, not fields
  stats.workers.emplace_back();
  out.push_back(to_json(stats));
  out.push_back(to_json(ReloadAnswer::loaded(1, 1, "r")));
  out.push_back(to_json(ReloadAnswer::refused(Status::invalid_at({"r", 1, 1}, "x"))));
  out.push_back(to_json(MovedError{"m", 5, {"a", "b"}}));
  WorkersAnswer workers;
  workers.per_worker.push_back(WorkerLoad{});
  workers.rescale = RescaleStatus{"failed", 1, 2, 3, 4, 5, 0.1, 0.2, "why"};
  out.push_back(to_json(workers));
  ImpactAnswer impact;
  impact.transitions.push_back({});
  impact.top.push_back({});
  impact.types.push_back({});
  impact.rows = std::vector<ImpactRow>{{}};
  out.push_back(to_json(impact));
  out.push_back(to_json(SnapshotAnswer{}));
  out.push_back(to_json(AlertsRequest{}));
  const std::string alert = to_json(AlertBody{});
  out.push_back(alerts_json({alert}, 2, 1, 1, 0));
  out.push_back(error_json(refusal(ErrorCode::kBadField, "x")));
  return out;
}

TEST(ClientDocTest, NamesEveryFieldTheCodeWrites) {
  const std::string doc = client_doc();
  ASSERT_FALSE(doc.empty()) << "cannot read docs/client.md";
  simdjson::dom::parser parser;
  std::set<std::string> keys;
  for (const std::string& json : everything_written()) {
    collect_keys(parser.parse(json).value(), keys);
  }
  EXPECT_GT(keys.size(), 50u);
  for (const std::string& key : keys) {
    EXPECT_NE(doc.find('"' + key + '"'), std::string::npos)
        << "docs/client.md lacks \"" << key << '"';
  }
}

TEST(ClientDocTest, NamesEveryOpErrorCodeAndValue) {
  const std::string doc = client_doc();
  for (std::string_view op : kOpNames) {
    EXPECT_NE(doc.find("{\"op\":\"" + std::string(op) + '"'), std::string::npos)
        << "docs/client.md shows no request for op " << op;
  }
  for (std::string_view code : kErrorCodeNames) {
    EXPECT_NE(doc.find("| `" + std::string(code) + "` |"), std::string::npos)
        << "docs/client.md's error code table lacks " << code;
  }
  for (std::string_view value : kOrderNames) {
    EXPECT_NE(doc.find('"' + std::string(value) + '"'), std::string::npos) << value;
  }
  for (std::string_view what : TimelineEntry::kWhatNames) {
    EXPECT_NE(doc.find('"' + std::string(what) + '"'), std::string::npos) << what;
  }
  for (const char* endpoint :
       {kDefaultIngestEndpoint, kDefaultSubmitEndpoint, kDefaultQueryEndpoint,
        kDefaultAlertsEndpoint, kDefaultMetricsAddress}) {
    EXPECT_NE(doc.find(endpoint), std::string::npos) << endpoint;
  }
  EXPECT_NE(doc.find("1 to " + std::to_string(kMaxTopN)), std::string::npos);
  EXPECT_NE(doc.find("1 to " + std::to_string(kMaxWorkers)), std::string::npos);
}

TEST(ClientDocTest, EveryOpAndErrorCodeItNamesExists) {
  const std::string doc = client_doc();
  const std::regex op_pattern(R"re(\{"op":"([a-z_]+)")re");
  int ops = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), op_pattern), end; it != end; ++it, ++ops) {
    EXPECT_TRUE(op_named((*it)[1].str())) << "docs/client.md names op " << (*it)[1] << ", which "
                                          << "api/protocol.h does not know";
  }
  EXPECT_GE(ops, static_cast<int>(kOpNames.size()));
  const std::regex code_row(R"re(\n\| `([a-z_]+)` \|)re");
  int codes = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), code_row), end; it != end; ++it, ++codes) {
    EXPECT_TRUE(error_code_named((*it)[1].str()))
        << "docs/client.md lists error code " << (*it)[1] << ", which api/protocol.h does not know";
  }
  EXPECT_EQ(codes, static_cast<int>(kErrorCodeNames.size()));
  const std::regex code_value(R"re("code":"([a-z_]+)")re");
  for (std::sregex_iterator it(doc.begin(), doc.end(), code_value), end; it != end; ++it) {
    EXPECT_TRUE(error_code_named((*it)[1].str())) << (*it)[1];
  }
}

}  // namespace
}  // namespace tally::api
