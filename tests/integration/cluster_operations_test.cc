// Operating a cluster node: an adapter publishing into the replicated log,
// two replicas agreeing with a node fed the same events over ZeroMQ (scores
// and alert ids), and each node's consumers at /metrics. Real nats-server,
// real tallyd, real tally-camera and tally.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "api/answers.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/files.h"
#include "tests/support/nats_server.h"
#include "tests/support/queries.h"

namespace tally::testing {
namespace {

constexpr int kPartitions = 8;

std::vector<std::string> node_args(const std::string& url, const std::string& node) {
  return {"--nats", url, "--node", node, "--workers", "2"};
}

// Every "id" of the alerts the node logged, sorted.
std::vector<std::string> alert_ids(DaemonProcess& daemon) {
  const std::string answer = daemon.ask(R"({"op":"alerts","since":1,"limit":10000})");
  std::vector<std::string> ids;
  const std::regex id(R"re("id":"([0-9a-f]{16})")re");
  for (auto it = std::sregex_iterator(answer.begin(), answer.end(), id);
       it != std::sregex_iterator(); ++it) {
    ids.push_back((*it)[1].str());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The value of the first sample of `metric` whose line starts with `prefix`
// (name and labels), or -1 if there is none.
double metric_value(const std::string& body, const std::string& prefix) {
  std::size_t at = 0;
  while ((at = body.find(prefix, at)) != std::string::npos) {
    if (at == 0 || body[at - 1] == '\n') {
      return std::stod(body.substr(at + prefix.size()));
    }
    at += prefix.size();
  }
  return -1;
}

TEST(ClusterOperationsTest, AdaptersPublishIntoTheLogAndReplicasAgreeWithAZeroMqNode) {
  TempDir dir("cluster-ops");
  const std::filesystem::path rules = source_tree() / "config/rules/camera-nyc.toml";
  NatsServer server(dir / "nats");
  const ProgramResult made =
      run_program({tally_path(), "cluster", "init", "--nats", server.url(), "--partitions",
                   std::to_string(kPartitions), "--replicas", "1"});
  ASSERT_EQ(made.exit_code, 0) << made.output;

  DaemonProcess a(rules, dir / "a", node_args(server.url(), "a"));
  DaemonProcess b(rules, dir / "b", node_args(server.url(), "b"));
  DaemonProcess reference(rules, dir / "ref");

  // The raw camera export through tally-camera: into the log, and into the
  // reference node over ZeroMQ.
  const std::string csv = (source_tree() / "samples/nyc-camera-extract.csv").string();
  const ProgramResult logged =
      run_program({program_path("tally-camera"), "--preset", "nyc-camera", "--nats", server.url(),
                   "--progress", "off", "--rejects", (dir / "rejects-log.ndjson").string(), csv});
  ASSERT_EQ(logged.exit_code, 0) << logged.output;
  EXPECT_NE(logged.output.find("acknowledged by the stream"), std::string::npos) << logged.output;
  const ProgramResult direct = run_program(
      {program_path("tally-camera"), "--preset", "nyc-camera", "--submit", reference.submit(),
       "--progress", "off", "--rejects", (dir / "rejects-direct.ndjson").string(), csv});
  ASSERT_EQ(direct.exit_code, 0) << direct.output;

  // Then events that cross tiers (watch at 4 points, repeat_offender at 8),
  // recent enough to count: the same file to the log and to the reference.
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::string lines;
  std::vector<std::string> subjects;
  for (int s = 0; s < 60; ++s) subjects.push_back(fmt::format("plate:NY:OPS{}", s));
  for (int i = 0; i < 300; ++i) {
    lines += event_line(fmt::format("ops-{}", i), subjects[static_cast<std::size_t>(i % 60)],
                        i % 4 == 3 ? "double_parking" : "failure_to_stop_at_red_light",
                        now_ms - std::int64_t{60'000} * (300 - i)) +
             "\n";
  }
  write_file(dir / "events.ndjson", lines);
  const ProgramResult sent =
      run_program({tally_path(), "send", "--nats", server.url(), (dir / "events.ndjson").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  const ProgramResult acked = run_program({tally_path(), "--submit", reference.submit(), "send",
                                           "--ack", (dir / "events.ndjson").string()});
  ASSERT_EQ(acked.exit_code, 0) << acked.output;

  // The reference answered every batch: what it processed is the total.
  const auto stats = api::parse_answer<api::StatsAnswer>(reference.ask(R"({"op":"stats"})"));
  ASSERT_TRUE(stats) << stats.status().to_string();
  const std::uint64_t total = stats->totals().processed();
  ASSERT_GT(total, 300u);
  a.wait_for_processed(total);
  b.wait_for_processed(total);

  for (const std::string& subject : subjects) {
    const std::int64_t expected = score_of(reference, subject);
    EXPECT_EQ(score_of(a, subject), expected) << subject;
    EXPECT_EQ(score_of(b, subject), expected) << subject;
  }
  // The same tier changes, named the same, on every node; each node numbers
  // its own seqs.
  const std::vector<std::string> expected_ids = alert_ids(reference);
  EXPECT_GE(expected_ids.size(), 60u);
  EXPECT_TRUE(eventually([&] { return alert_ids(a) == expected_ids; }, std::chrono::seconds(30)))
      << a.ask(R"({"op":"alerts","since":1,"limit":10})") << "\n"
      << reference.ask(R"({"op":"alerts","since":1,"limit":10})");
  EXPECT_TRUE(eventually([&] { return alert_ids(b) == expected_ids; }, std::chrono::seconds(30)));

  // The consumers at /metrics: every message acknowledged, and each owned
  // partition's lag, once refreshed, at zero.
  EXPECT_TRUE(eventually(
      [&] {
        const std::string body = a.scrape_metrics();
        for (int p = 0; p < kPartitions; ++p) {
          const std::string lag =
              fmt::format("tally_jetstream_consumer_lag_messages{{partition=\"{}\"}} ", p);
          if (metric_value(body, lag) != 0) return false;
        }
        return metric_value(body, "tally_jetstream_acked_total ") > 0 &&
               metric_value(body, "tally_jetstream_redeliveries_total ") >= 0 &&
               metric_value(body, "tally_jetstream_fetch_errors_total ") >= 0 &&
               metric_value(body, "tally_jetstream_rules_held ") == 0 &&
               metric_value(body, "tally_jetstream_rules_refused_total ") == 0;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)))
      << a.scrape_metrics();
  // Every consumer metric the alerting rules name is exported by a cluster
  // node (monitoring_test.cc checks the others against a plain tallyd).
  const std::string rules_text =
      read_file(source_tree() / "monitoring/prometheus/tally-alerts.yml");
  const std::string exported = a.scrape_metrics();
  const std::regex consumer_metric(R"(tally_jetstream_[a-z_]+)");
  int named = 0;
  for (auto it = std::sregex_iterator(rules_text.begin(), rules_text.end(), consumer_metric);
       it != std::sregex_iterator(); ++it, ++named) {
    EXPECT_NE(exported.find("# TYPE " + it->str() + " "), std::string::npos) << it->str();
  }
  EXPECT_GE(named, 3);
  // A node fed over ZeroMQ has no consumer families.
  EXPECT_EQ(reference.scrape_metrics().find("tally_jetstream_"), std::string::npos);

  // `tally cluster status --cluster FILE`: each node of the file asked.
  write_file(
      dir / "cluster.toml",
      fmt::format("partitions = {}\n"
                  "[[node]]\nname = \"a\"\nquery = \"{}\"\n"
                  "[[node]]\nname = \"b\"\nquery = \"{}\"\npartitions = \"0-3\"\n"
                  "[[node]]\nname = \"gone\"\nquery = \"tcp://127.0.0.1:{}\"\n"
                  "[[node]]\nname = \"ref\"\nquery = \"{}\"\n",
                  kPartitions, a.query(), b.query(), free_loopback_port(), reference.query()));
  const ProgramResult status =
      run_program({tally_path(), "cluster", "status", "--nats", server.url(), "--cluster",
                   (dir / "cluster.toml").string()});
  EXPECT_EQ(status.exit_code, 1) << status.output;
  EXPECT_NE(status.output.find(fmt::format("health a: healthy ({} events settled", total)),
            std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("consumes partitions 0-7, the file says 0-3"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("health gone: down (no answer from"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("health ref: not_consuming"), std::string::npos) << status.output;
}

}  // namespace
}  // namespace tally::testing
