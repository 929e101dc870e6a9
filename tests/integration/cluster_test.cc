// A cluster on the replicated log: real nats-server processes (three in a
// cluster, an R3 stream), tallyd nodes consuming it as replicas and as a
// partition owner, crashes of a NATS server and of a replica during the
// load; every score exact on every node that owns the subject.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "client/jetstream_publisher.h"
#include "core/partitions.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/nats_server.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

constexpr std::uint32_t kPartitions = 8;

// Events over `subjects` subjects, every tenth one a resend of an earlier
// event (same id): the expected score counts each id once.
struct Load {
  std::vector<std::string> lines;
  std::map<std::string, std::int64_t> expected;  // subject -> score
};

Load make_load(int events, int subjects) {
  Load load;
  for (int i = 0; i < events; ++i) {
    if (i % 10 == 9) {
      load.lines.push_back(load.lines[static_cast<std::size_t>(i / 2)]);
      continue;
    }
    const std::string subject = fmt::format("plate:NY:{}", i % subjects);
    const bool red = i % 3 != 0;
    load.lines.push_back(event_line(fmt::format("ev{}", i), subject, red ? "red_light" : "speeding",
                                    std::int64_t{1'704'067'200'000} + i * 1000));
    load.expected[subject] += red ? 3 : 4;
  }
  return load;
}

std::string init_stream(const std::string& urls, int replicas) {
  const ProgramResult made =
      run_program({tally_path(), "cluster", "init", "--nats", urls, "--partitions",
                   std::to_string(kPartitions), "--replicas", std::to_string(replicas)});
  EXPECT_EQ(made.exit_code, 0) << made.output;
  return made.output;
}

std::vector<std::string> node_args(const std::string& urls, const std::string& node,
                                   const std::string& partitions = "all") {
  return {"--nats", urls, "--node", node, "--partitions", partitions, "--workers", "2"};
}

// Whether every subject the node owns has its expected score.
bool agrees(DaemonProcess& daemon, const Load& load, const PartitionSet& owned) {
  for (const auto& [subject, score] : load.expected) {
    if (!owned.contains_subject(subject)) continue;
    if (score_of(daemon, subject) != std::min<std::int64_t>(score, 100)) return false;
  }
  return true;
}

void expect_agrees(DaemonProcess& daemon, const Load& load, const PartitionSet& owned,
                   const char* who) {
  EXPECT_TRUE(eventually([&] { return agrees(daemon, load, owned); }, std::chrono::seconds(60),
                         std::chrono::milliseconds(100)))
      << who << " did not reach the expected scores";
  int checked = 0;
  for (const auto& [subject, score] : load.expected) {
    if (!owned.contains_subject(subject)) continue;
    ASSERT_EQ(score_of(daemon, subject), std::min<std::int64_t>(score, 100))
        << who << " " << subject;
    ++checked;
  }
  EXPECT_GT(checked, 0) << who;
}

client::JetStreamPublishSummary publish(const std::string& urls,
                                        const std::vector<std::string>& lines, std::size_t from,
                                        std::size_t to, std::atomic<std::size_t>* progress) {
  client::JetStreamPublisherOptions options;
  options.urls = {};
  std::string rest = urls;
  for (std::size_t comma; (comma = rest.find(',')) != std::string::npos; rest.erase(0, comma + 1)) {
    options.urls.push_back(rest.substr(0, comma));
  }
  options.urls.push_back(rest);
  options.batch_max_events = 50;
  auto publisher = client::JetStreamPublisher::open(options);
  EXPECT_TRUE(publisher.is_ok()) << publisher.status().to_string();
  if (!publisher) return {};
  for (std::size_t i = from; i < to; ++i) {
    (*publisher)->add(lines[i]);
    if (progress != nullptr) progress->store(i + 1);
  }
  return (*publisher)->finish();
}

TEST(ClusterTest, ReplicasAndAnOwnerStayExactThroughAServerAndAReplicaKilled) {
  TempDir dir("cluster");
  write_file(dir / "rules.toml", kDemeritRules);
  NatsCluster nats(dir / "nats");
  nats.wait_for_jetstream();
  EXPECT_NE(init_stream(nats.urls(), 3).find("created stream TALLY"), std::string::npos);
  EXPECT_NE(init_stream(nats.urls(), 3).find("exists; nothing changed"), std::string::npos);

  const PartitionSet all = PartitionSet::all(kPartitions);
  const PartitionSet half = *PartitionSet::parse("0-3", kPartitions);
  DaemonProcess a(dir / "rules.toml", dir / "a", node_args(nats.urls(), "a"));
  auto b =
      std::make_unique<DaemonProcess>(dir / "rules.toml", dir / "b", node_args(nats.urls(), "b"));
  DaemonProcess owner(dir / "rules.toml", dir / "h", node_args(nats.urls(), "h", "0-3"));

  const Load load = make_load(30000, 700);
  std::atomic<std::size_t> progress{0};
  client::JetStreamPublishSummary summary;
  std::jthread publisher(
      [&] { summary = publish(nats.urls(), load.lines, 0, load.lines.size(), &progress); });
  // A third of the way in: a NATS server and a replica crash; both restart
  // while the load goes on.
  ASSERT_TRUE(eventually([&] { return progress.load() > load.lines.size() / 3; },
                         std::chrono::seconds(60)));
  nats.server(1).kill_hard();
  b->kill_hard();
  b.reset();
  ASSERT_TRUE(eventually([&] { return progress.load() > load.lines.size() / 2; },
                         std::chrono::seconds(60)));
  nats.server(1).restart();
  b = std::make_unique<DaemonProcess>(dir / "rules.toml", dir / "b", node_args(nats.urls(), "b"));
  publisher.join();
  EXPECT_TRUE(summary.complete()) << summary.failure << " unacknowledged "
                                  << summary.unacknowledged_events;
  EXPECT_EQ(summary.acknowledged_events, load.lines.size());

  expect_agrees(a, load, all, "replica a");
  expect_agrees(*b, load, all, "replica b (killed and restarted)");
  expect_agrees(owner, load, half, "owner of 0-3");

  // The whole load again (a producer that never heard its PubAcks): the
  // server drops the batches within its window; nothing is counted twice.
  const auto again = publish(nats.urls(), load.lines, 0, load.lines.size(), nullptr);
  EXPECT_TRUE(again.complete());
  EXPECT_EQ(again.duplicate_batches, again.batches);
  expect_agrees(a, load, all, "replica a after the resend");
}

TEST(ClusterTest, ANodeWithAnEmptyDiskRebuildsItsPartitionsFromTheStream) {
  TempDir dir("rebuild");
  write_file(dir / "rules.toml", kDemeritRules);
  NatsServer server(dir / "nats");
  init_stream(server.url(), 1);
  const Load load = make_load(5000, 300);
  const PartitionSet owned = *PartitionSet::parse("2-5", kPartitions);
  {
    DaemonProcess node(dir / "rules.toml", dir / "n", node_args(server.url(), "n", "2-5"));
    const auto summary = publish(server.url(), load.lines, 0, load.lines.size(), nullptr);
    EXPECT_TRUE(summary.complete());
    expect_agrees(node, load, owned, "node n");
    EXPECT_EQ(node.terminate(), 0);
  }
  // Its disk is lost; its consumers (at the end of the stream) are not.
  std::filesystem::remove_all(dir / "n");
  DaemonProcess node(dir / "rules.toml", dir / "n", node_args(server.url(), "n", "2-5"));
  EXPECT_NE(node.output().find("rebuilding partitions 2-5 from the stream"), std::string::npos)
      << node.output();
  expect_agrees(node, load, owned, "node n rebuilt");
  // And a restart with its disk resumes instead of reading everything again.
  EXPECT_EQ(node.terminate(), 0);
  DaemonProcess resumed(dir / "rules.toml", dir / "n", node_args(server.url(), "n", "2-5"));
  EXPECT_EQ(resumed.output().find("rebuilding"), std::string::npos);
  expect_agrees(resumed, load, owned, "node n resumed");
}

}  // namespace
}  // namespace tally::testing
