// The shipped dashboard and alerting rules against a real Prometheus server
// scraping a real tallyd under acknowledged load: every dashboard query
// returns data and every alert rule evaluates without error, as an operator
// who imports them would see. (monitoring_test.cc checks the metric names;
// the rule unit tests in monitoring/prometheus/tests/ check what each alert
// does on series written by hand.)
//
// Prometheus scrapes every second and evaluates the rules every second, so
// each check is a wait on a condition with a deadline, a few scrapes long.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/acknowledged_sender.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/prometheus_server.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// How long Prometheus may take to have scraped enough for a query (rate()
// needs two scrapes in its window) or to have evaluated every rule.
constexpr seconds kScrapedWithin{20};
constexpr milliseconds kPollEvery{200};

// Every `expr` of every panel's targets (rows' nested panels included).
std::vector<std::string> dashboard_queries(const fs::path& dashboard_file) {
  const std::string text = read_file(dashboard_file);
  simdjson::dom::parser parser;
  std::vector<std::string> queries;
  const auto collect = [&](auto& self, simdjson::dom::array panels) -> void {
    for (simdjson::dom::element panel : panels) {
      simdjson::dom::array targets;
      if (panel["targets"].get(targets) == simdjson::SUCCESS) {
        for (simdjson::dom::element target : targets) {
          std::string_view expr;
          if (target["expr"].get(expr) == simdjson::SUCCESS) queries.emplace_back(expr);
        }
      }
      simdjson::dom::array nested;
      if (panel["panels"].get(nested) == simdjson::SUCCESS) self(self, nested);
    }
  };
  simdjson::dom::array panels;
  EXPECT_EQ(parse_json(parser, text)["panels"].get(panels), simdjson::SUCCESS) << dashboard_file;
  collect(collect, panels);
  return queries;
}

// The names after `- alert:` in the rules file.
std::vector<std::string> alert_names(const fs::path& rules_file) {
  const std::string text = read_file(rules_file);
  const std::regex alert(R"(-\s*alert:\s*([A-Za-z0-9_]+))");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), alert);
       it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1].str());
  }
  return names;
}

// Acknowledged batches sent from a thread of its own until stopped, two in
// flight: 100 events over 1,000 drivers (so subjects climb through the
// tiers) and one malformed line each (so rejects have a reason to show).
class BackgroundLoad {
 public:
  explicit BackgroundLoad(std::string endpoint)
      : thread_([this, endpoint = std::move(endpoint)] { run(endpoint); }) {}
  ~BackgroundLoad() { stop(); }
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t answered() const noexcept { return answered_; }

 private:
  static std::string batch(std::uint64_t number) {
    std::string payload;
    for (std::uint64_t i = 0; i < kEventsPerBatch; ++i) {
      const std::uint64_t n = number * kEventsPerBatch + i;
      payload += event_line(fmt::format("e{}", n), fmt::format("driver:{}", n % 1000),
                            n % 2 == 0 ? "red_light" : "speeding",
                            std::int64_t{1'735'689'600'000} + static_cast<std::int64_t>(n));
    }
    payload += "{not json\n";
    return payload;
  }

  void run(const std::string& endpoint) {
    zmq::context_t context(1);
    AcknowledgedSender sender(context, endpoint);
    std::uint64_t next = 0;
    while (!stop_) {
      while (sender.in_flight() < 2) {
        sender.send(fmt::format("b{}", next), batch(next));
        ++next;
      }
      if (sender.next_answer(AcknowledgedSender::Clock::now() + milliseconds(100))) ++answered_;
    }
  }

  static constexpr std::uint64_t kEventsPerBatch = 100;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> answered_{0};
  std::thread thread_;
};

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PrometheusServer::program().empty()) {
      GTEST_SKIP() << "prometheus is not installed (Debian package `prometheus`; "
                      "scripts/install-deps.sh installs it): the dashboard and alerts are not "
                      "checked against a real server";
    }
    write_file(dir_ / "rules.toml", kDemeritRules);
  }

  // prometheus.yml: scrape `daemon` every second, evaluate the shipped
  // alerting rules every second.
  fs::path write_prometheus_config(const DaemonProcess& daemon) {
    // http://HOST:PORT/metrics
    const std::string url = daemon.metrics_url();
    const std::string rest = url.substr(std::string("http://").size());
    const std::string target = rest.substr(0, rest.find('/'));
    const fs::path config = dir_ / "prometheus.yml";
    write_file(config, fmt::format("global:\n"
                                   "  scrape_interval: 1s\n"
                                   "  scrape_timeout: 1s\n"
                                   "  evaluation_interval: 1s\n"
                                   "rule_files:\n"
                                   "  - '{}'\n"
                                   "scrape_configs:\n"
                                   "  - job_name: tally\n"
                                   "    static_configs:\n"
                                   "      - targets: ['{}']\n",
                                   alerts_file_.string(), target));
    return config;
  }

  // Waits until every query answers at least one series; fails naming the
  // ones that did not (or that Prometheus refused).
  void expect_every_query_has_data(PrometheusServer& prometheus,
                                   const std::vector<std::string>& queries) {
    std::map<std::string, std::string> missing;
    const bool all = eventually(
        [&] {
          missing.clear();
          for (const std::string& query : queries) {
            const auto result = prometheus.instant_query(query);
            if (!result) {
              missing[query] = "refused by Prometheus (not a valid expression?)";
            } else if (result->size() == 0) {
              missing[query] = "no data";
            }
          }
          return missing.empty();
        },
        kScrapedWithin, kPollEvery);
    EXPECT_TRUE(all) << missing.size() << " of " << queries.size() << " queries have no data";
    for (const auto& [query, why] : missing) ADD_FAILURE() << why << ": " << query;
  }

  // Waits until Prometheus has loaded every alert of the shipped file and
  // evaluated each without error (health "ok"); fails on any "err" at once.
  void expect_every_rule_healthy(PrometheusServer& prometheus) {
    const std::vector<std::string> expected = alert_names(alerts_file_);
    ASSERT_GT(expected.size(), 5u);
    std::map<std::string, std::string> health;  // alert -> health, or the error
    bool failed = false;
    const bool all_ok = eventually(
        [&] {
          health.clear();
          const auto groups = prometheus.rule_groups();
          if (!groups) return false;
          for (simdjson::dom::element group : *groups) {
            for (simdjson::dom::element rule : group["rules"].get_array()) {
              const std::string name(rule["name"].get_string().value());
              std::string state(rule["health"].get_string().value());
              if (state == "err") {
                failed = true;
                state += ": " + std::string(rule["lastError"].get_string().value());
              }
              health[name] = state;
            }
          }
          if (failed) return true;
          for (const std::string& name : expected) {
            if (health[name] != "ok") return false;
          }
          return true;
        },
        kScrapedWithin, kPollEvery);
    for (const std::string& name : expected) {
      EXPECT_EQ(health[name], "ok")
          << "alert rule " << name << " (after " << (all_ok ? "an error" : "the deadline") << ")";
    }
  }

  const fs::path alerts_file_ = source_tree() / "monitoring/prometheus/tally-alerts.yml";
  const fs::path dashboard_file_ = source_tree() / "monitoring/grafana/tally-dashboard.json";
  TempDir dir_{"prometheus"};
};

TEST_F(PrometheusTest, EveryDashboardQueryHasDataAndEveryAlertRuleEvaluatesUnderLoad) {
  const std::vector<std::string> queries = dashboard_queries(dashboard_file_);
  ASSERT_GT(queries.size(), 15u);

  DaemonProcess daemon(dir_ / "rules.toml", dir_ / "data", {"--workers", "2"});
  PrometheusServer prometheus(write_prometheus_config(daemon), dir_ / "prometheus-data");
  BackgroundLoad load(daemon.submit());
  // A reload and a snapshot, so that their panels have something to show.
  daemon.ask(R"({"op":"reload"})");
  daemon.ask(R"({"op":"snapshot"})");
  // The number of worker series Prometheus has for `metric` now.
  const auto series = [&](const std::string& metric) -> std::size_t {
    const auto result = prometheus.instant_query("count(" + metric + ")");
    if (!result || result->size() == 0) return 0;
    std::string_view value;
    if ((*result).at(0)["value"].at(1).get(value) != simdjson::SUCCESS) return 0;
    return std::stoul(std::string(value));
  };
  EXPECT_TRUE(eventually([&] { return series("tally_queue_depth") == 2; }, kScrapedWithin));

  // A live change to 3 workers and back to 2, under the load: the third
  // worker's series appear, then leave the exposition (no stale values).
  for (const int workers : {3, 2}) {
    const ProgramResult changed =
        run_program({tally_path(), "--query", daemon.query(), "workers", std::to_string(workers)},
                    std::chrono::minutes(1));
    EXPECT_EQ(changed.exit_code, 0) << changed.output;
    EXPECT_TRUE(eventually(
        [&] {
          return series("tally_queue_depth") == static_cast<std::size_t>(workers) &&
                 series("tally_worker_busy_seconds_total") == static_cast<std::size_t>(workers);
        },
        kScrapedWithin))
        << workers << " workers";
  }

  expect_every_query_has_data(prometheus, queries);
  expect_every_rule_healthy(prometheus);

  const std::uint64_t answered = load.answered();
  EXPECT_TRUE(eventually([&] { return load.answered() > answered; }, seconds(10)))
      << "the load stopped being acknowledged";
  load.stop();
}

}  // namespace
}  // namespace tally::testing
