// The shipped Grafana dashboard and Prometheus alerting rules name only
// metrics that a real tallyd exports: a renamed metric fails here, not in an
// operator's empty panel or silent alert.
#include <gtest/gtest.h>

#include <cstring>
#include <regex>
#include <set>
#include <string>

#include "tests/support/daemon_process.h"
#include "tests/support/events.h"

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
  const fs::path source = source_tree();
  const std::string alerts = read_file(source / "monitoring/prometheus/tally-alerts.yml");
  const std::string dashboard = read_file(source / "monitoring/grafana/tally-dashboard.json");
  ASSERT_FALSE(alerts.empty());
  ASSERT_FALSE(dashboard.empty());

  const TempDir dir("monitoring");
  DaemonProcess daemon(source / "config/rules/demerit-ny.toml", dir / "data");
  daemon.submit_batch("b", event_line("e1", "p:1", "red_light", "2025-01-01T00:00:00Z"));
  const std::set<std::string> exported = metric_names(daemon.scrape_metrics());
  ASSERT_GT(exported.size(), 10u);

  std::size_t checked = 0;
  for (const std::string* file : {&alerts, &dashboard}) {
    for (const std::string& metric : metric_names(*file)) {
      // Only a cluster node exports these: cluster_operations_test.cc checks them.
      if (metric.starts_with("tally_jetstream_")) continue;
      EXPECT_TRUE(exported.count(metric) > 0)
          << metric << " is used by " << (file == &alerts ? "the alerts" : "the dashboard")
          << " but tallyd does not export it";
      ++checked;
    }
  }
  EXPECT_GT(checked, 15u);
}

}  // namespace
}  // namespace tally::testing
