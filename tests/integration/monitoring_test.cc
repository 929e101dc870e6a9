// The shipped Grafana dashboard and Prometheus alerting rules name only
// metrics that a real tallyd exports: a renamed metric fails here, not in an
// operator's empty panel or silent alert.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "tests/integration/daemon_process.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;

// Every tally_* name in a file, with histogram suffixes taken off.
std::set<std::string> metric_names(const std::string& text) {
  std::set<std::string> names;
  const std::regex name(R"(tally_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    std::string metric = it->str();
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      if (metric.ends_with(suffix)) metric.resize(metric.size() - std::strlen(suffix));
    }
    names.insert(metric);
  }
  return names;
}

TEST(MonitoringTest, DashboardAndAlertsNameOnlyExportedMetrics) {
  const fs::path source(TALLY_SOURCE_DIR);
  const std::string alerts = read_file(source / "monitoring/prometheus/tally-alerts.yml");
  const std::string dashboard = read_file(source / "monitoring/grafana/tally-dashboard.json");
  ASSERT_FALSE(alerts.empty());
  ASSERT_FALSE(dashboard.empty());

  const fs::path dir = make_temp_dir("monitoring");
  DaemonProcess daemon(source / "config/rules/demerit-ny.toml", dir / "data");
  daemon.submit_batch(
      "b", R"({"id":"e1","subject":"p:1","type":"red_light","time":"2025-01-01T00:00:00Z"})"
           "\n");
  const std::set<std::string> exported = metric_names(daemon.scrape_metrics());
  ASSERT_GT(exported.size(), 10u);

  std::size_t checked = 0;
  for (const std::string* file : {&alerts, &dashboard}) {
    for (const std::string& metric : metric_names(*file)) {
      EXPECT_TRUE(exported.count(metric) > 0)
          << metric << " is used by " << (file == &alerts ? "the alerts" : "the dashboard")
          << " but tallyd does not export it";
      ++checked;
    }
  }
  EXPECT_GT(checked, 15u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tally::testing
