// A cluster on the replicated log: real nats-server processes (three in a
// cluster, an R3 stream), tallyd nodes consuming it as replicas and as a
// partition owner, crashes of a NATS server and of a replica during the
// load; every score exact on every node that owns the subject. Rules through
// the log: replicas switch at the same point of every partition, a replica
// killed and restarted, a node rebuilt from the stream and a node with other
// rules refused, all agreeing with a sum by the rules each event was
// published under.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "client/jetstream_publisher.h"
#include "core/nats_connection.h"
#include "core/partitions.h"
#include "core/rules_message.h"
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

// The demerit rules with red_light worth `points`.
std::string demerit_rules_with_red_light(int points) {
  std::string rules(kDemeritRules);
  const std::string from = "[rules.red_light]\npoints = 3";
  rules.replace(rules.find(from), from.size(),
                "[rules.red_light]\npoints = " + std::to_string(points));
  return rules;
}

// Events for `subjects` subjects, ids prefixed `prefix`; expected scores
// added by the rules they will be decoded with (red_light worth `red`).
void add_events(Load& load, const std::string& prefix, int events, int subjects, int red) {
  for (int i = 0; i < events; ++i) {
    const std::string subject = fmt::format("plate:NY:{}", i % subjects);
    const bool is_red = i % 3 != 0;
    load.lines.push_back(event_line(fmt::format("{}{}", prefix, i), subject,
                                    is_red ? "red_light" : "speeding",
                                    std::int64_t{1'704'067'200'000} + i * 1000));
    load.expected[subject] += is_red ? red : 4;
  }
}

ProgramResult run_tallyd(const std::filesystem::path& rules, const std::filesystem::path& data,
                         const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {tallyd_path(),       "--rules",       rules.string(),
                                   "--data-dir",        data.string(),   "--query-bind",
                                   "tcp://127.0.0.1:*", "--alerts-bind", "tcp://127.0.0.1:*",
                                   "--metrics-listen",  "127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_program(argv, std::chrono::seconds(60));
}

TEST(ClusterRulesTest, ReplicasSwitchRulesAtTheSamePointOfTheLogAndRefuseOtherRules) {
  TempDir dir("cluster-rules");
  write_file(dir / "old.toml", demerit_rules_with_red_light(3));
  write_file(dir / "new.toml", demerit_rules_with_red_light(5));
  write_file(dir / "other.toml", demerit_rules_with_red_light(7));
  write_file(dir / "bad.toml", "[score]\nbase = 0\n[rules.red_light]\npoints = \"many\"\n");
  NatsServer server(dir / "nats");
  const std::string url = server.url();
  const ProgramResult made = run_program({tally_path(), "cluster", "init", "--nats", url,
                                          "--partitions", std::to_string(kPartitions), "--replicas",
                                          "1", "--rules", (dir / "old.toml").string()});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_NE(made.output.find("into 8 partitions"), std::string::npos) << made.output;

  const PartitionSet all = PartitionSet::all(kPartitions);
  auto b = std::make_unique<DaemonProcess>(dir / "old.toml", dir / "b", node_args(url, "b"));

  // Before the rules message: red_light worth 3; after it: 5.
  Load load;
  add_events(load, "before", 4000, 1000, 3);
  const std::size_t before = load.lines.size();
  add_events(load, "after", 4000, 1000, 5);
  // Replica b crashes a quarter of the way in: it comes back to a backlog
  // that spans the rules message in every partition, with the old rules in
  // force, and reads several partitions' messages before any is done.
  const std::size_t quarter = before / 4;
  EXPECT_TRUE(publish(url, load.lines, 0, quarter, nullptr).complete());
  ASSERT_TRUE(eventually([&] { return score_of(*b, "plate:NY:1") > 0; }, std::chrono::seconds(30)));
  b->kill_hard();
  b.reset();
  EXPECT_TRUE(publish(url, load.lines, quarter, before, nullptr).complete());

  const ProgramResult bad =
      run_program({tally_path(), "cluster", "rules", "--nats", url, (dir / "bad.toml").string()});
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find("bad.toml:4:"), std::string::npos) << bad.output;
  const ProgramResult changed =
      run_program({tally_path(), "cluster", "rules", "--nats", url, (dir / "new.toml").string()});
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("into 8 partitions"), std::string::npos) << changed.output;
  const ProgramResult again =
      run_program({tally_path(), "cluster", "rules", "--nats", url, (dir / "new.toml").string()});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing published"), std::string::npos) << again.output;

  // Replica a starts now, with the log's current rules, and reads every
  // partition from its first message: the first rules, the events before,
  // the second rules.
  DaemonProcess a(dir / "new.toml", dir / "a", node_args(url, "a"));
  const std::size_t middle = before + (load.lines.size() - before) / 2;
  EXPECT_TRUE(publish(url, load.lines, before, middle, nullptr).complete());
  // b restarts with the new file (what an operator gives every node after
  // `tally cluster rules`); the rules in force are still those it kept.
  b = std::make_unique<DaemonProcess>(dir / "new.toml", dir / "b", node_args(url, "b"));
  EXPECT_TRUE(publish(url, load.lines, middle, load.lines.size(), nullptr).complete());

  expect_agrees(a, load, all, "replica a");
  expect_agrees(*b, load, all, "replica b (killed and restarted)");
  EXPECT_NE(a.output().find("rules through the log: version"), std::string::npos) << a.output();

  // In a cluster, a reload is refused: the log is the only way.
  const std::string reload = a.ask(R"({"op":"reload"})");
  EXPECT_NE(reload.find("rules_refused"), std::string::npos) << reload;
  EXPECT_NE(reload.find("tally cluster rules"), std::string::npos) << reload;

  // A node with rules of its own is refused, new or restarted.
  const ProgramResult other = run_tallyd(dir / "other.toml", dir / "c", node_args(url, "c"));
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("refuses to serve rules that differ from the log's"),
            std::string::npos)
      << other.output;
  EXPECT_EQ(a.terminate(), 0);
  const ProgramResult stale = run_tallyd(dir / "old.toml", dir / "a", node_args(url, "a"));
  EXPECT_EQ(stale.exit_code, 2) << stale.output;
  EXPECT_NE(stale.output.find("rules in force are version"), std::string::npos) << stale.output;

  // A node rebuilt from the stream alone meets the first rules, then the
  // second, at the same points: the same scores.
  DaemonProcess rebuilt(dir / "new.toml", dir / "r", node_args(url, "r"));
  expect_agrees(rebuilt, load, all, "node r rebuilt from the stream");
}

// A stream as `tally cluster init` made it before rules went through the
// log: partition subjects only.
void make_stream_without_rules_subject(const std::string& url) {
  nats::ConnectOptions connect;
  connect.urls = {url};
  auto connection = nats::Connection::connect(connect);
  ASSERT_TRUE(connection.is_ok()) << connection.status().to_string();
  std::vector<std::string> subjects;
  for (std::uint32_t p = 0; p < kPartitions; ++p) subjects.push_back(partition_subject("TALLY", p));
  std::vector<const char*> pointers;
  for (const std::string& subject : subjects) pointers.push_back(subject.c_str());
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = "TALLY";
  config.Subjects = pointers.data();
  config.SubjectsLen = static_cast<int>(pointers.size());
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions options = (*connection)->api_options();
  ASSERT_EQ(js_AddStream(&info, (*connection)->jetstream(), &config, &options, &error), NATS_OK)
      << error;
  jsStreamInfo_Destroy(info);
}

TEST(ClusterRulesTest, AStreamMadeBeforeRulesWentThroughTheLogGetsItsRulesSubject) {
  TempDir dir("cluster-rules-old-stream");
  write_file(dir / "old.toml", demerit_rules_with_red_light(3));
  write_file(dir / "new.toml", demerit_rules_with_red_light(5));
  NatsServer server(dir / "nats");
  make_stream_without_rules_subject(server.url());
  // No rules in the log yet: a node starts with its own file.
  DaemonProcess node(dir / "old.toml", dir / "n", node_args(server.url(), "n"));
  Load load;
  add_events(load, "before", 400, 100, 3);
  const std::size_t before = load.lines.size();
  add_events(load, "after", 400, 100, 5);
  EXPECT_TRUE(publish(server.url(), load.lines, 0, before, nullptr).complete());
  const ProgramResult changed = run_program(
      {tally_path(), "cluster", "rules", "--nats", server.url(), (dir / "new.toml").string()});
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("added subject tally.rules to stream TALLY"), std::string::npos)
      << changed.output;
  EXPECT_TRUE(publish(server.url(), load.lines, before, load.lines.size(), nullptr).complete());
  expect_agrees(node, load, PartitionSet::all(kPartitions), "node n");
}

TEST(ClusterRulesTest, ARulesMessageANodeCannotUseHoldsItsPartitionsRatherThanDiverge) {
  TempDir dir("cluster-rules-damaged");
  write_file(dir / "old.toml", demerit_rules_with_red_light(3));
  NatsServer server(dir / "nats");
  const ProgramResult made = run_program({tally_path(), "cluster", "init", "--nats", server.url(),
                                          "--partitions", std::to_string(kPartitions), "--replicas",
                                          "1", "--rules", (dir / "old.toml").string()});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  DaemonProcess node(dir / "old.toml", dir / "n", node_args(server.url(), "n"));
  // A rules message whose version does not match its bytes, in partition 0.
  {
    nats::ConnectOptions connect;
    connect.urls = {server.url()};
    auto connection = nats::Connection::connect(connect);
    ASSERT_TRUE(connection.is_ok());
    auto message = nats::make_rules_message(partition_subject("TALLY", 0), "0123456789abcdef",
                                            demerit_rules_with_red_light(9));
    ASSERT_TRUE(message.is_ok());
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_PublishMsg(&ack, (*connection)->jetstream(), message->get(), nullptr, nullptr),
              NATS_OK);
    jsPubAck_Destroy(ack);
  }
  ASSERT_TRUE(eventually(
      [&] { return node.output().find("held until this is resolved") != std::string::npos; },
      std::chrono::seconds(30)))
      << node.output();
  // Partition 0 is held (its replicas all hold it at the same message);
  // the other partitions go on with the rules in force.
  Load load;
  add_events(load, "after", 400, 100, 3);
  EXPECT_TRUE(publish(server.url(), load.lines, 0, load.lines.size(), nullptr).complete());
  const PartitionSet others = *PartitionSet::parse("1-7", kPartitions);
  expect_agrees(node, load, others, "partitions 1-7");
  int held = 0;
  for (const auto& [subject, score] : load.expected) {
    if (others.contains_subject(subject)) continue;
    EXPECT_EQ(score_of(node, subject), 0) << subject << " of the held partition 0";
    ++held;
  }
  EXPECT_GT(held, 0);
}

}  // namespace
}  // namespace tally::testing
