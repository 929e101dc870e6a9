// Routing in a cluster: a node asked about a subject it does not own
// answers `moved`, naming the owners it sees among the stream's consumers;
// `tally --cluster FILE` reaches an owner, follows a `moved` answer from a
// node the file wrongly lists, and fails over when an owner is down. Real
// nats-server (one, JetStream), real tallyd nodes, the real `tally`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

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

std::vector<std::string> node_args(const std::string& url, const std::string& node,
                                   const std::string& partitions) {
  return {"--nats", url, "--node", node, "--partitions", partitions, "--workers", "2"};
}

// A subject of partition `wanted`, found by name.
std::string subject_in(std::uint32_t wanted) {
  for (int i = 0;; ++i) {
    std::string subject = fmt::format("plate:NY:R{}", i);
    if (partition_of_subject(subject, kPartitions) == wanted) return subject;
  }
}

// Publishes a few events for each subject; returns each one's expected score.
std::map<std::string, std::int64_t> publish_events(const std::string& url,
                                                   const std::vector<std::string>& subjects) {
  client::JetStreamPublisherOptions options;
  options.urls = {url};
  auto publisher = client::JetStreamPublisher::open(options);
  EXPECT_TRUE(publisher.is_ok()) << publisher.status().to_string();
  std::map<std::string, std::int64_t> expected;
  if (!publisher) return expected;
  for (std::size_t s = 0; s < subjects.size(); ++s) {
    for (std::size_t i = 0; i <= s % 3; ++i) {  // 1 to 3 events: scores differ by subject
      const bool red = (s + i) % 2 == 0;
      (*publisher)
          ->add(event_line(fmt::format("ev{}-{}", s, i), subjects[s],
                           red ? "red_light" : "speeding",
                           std::int64_t{1'704'067'200'000} + static_cast<std::int64_t>(i)));
      expected[subjects[s]] += red ? 3 : 4;
    }
  }
  EXPECT_TRUE((*publisher)->finish().complete());
  return expected;
}

// `tally --cluster FILE [flags] ARGS...`.
ProgramResult tally_cluster(const std::filesystem::path& file, std::vector<std::string> args) {
  std::vector<std::string> argv = {tally_path(), "--cluster", file.string(), "--node-timeout",
                                   "0.5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, std::chrono::seconds(30));
}

std::string node_table(const std::string& name, const DaemonProcess& node,
                       const std::string& partitions) {
  return fmt::format("[[node]]\nname = \"{}\"\nquery = \"{}\"\npartitions = \"{}\"\n\n", name,
                     node.query(), partitions);
}

TEST(ClusterRoutingTest, MovedNamesTheOwnersAndTallyReachesAnOwnerFailingOverWhenOneIsDown) {
  TempDir dir("routing");
  write_file(dir / "rules.toml", kDemeritRules);
  NatsServer server(dir / "nats");
  const ProgramResult made =
      run_program({tally_path(), "cluster", "init", "--nats", server.url(), "--partitions",
                   std::to_string(kPartitions), "--replicas", "1"});
  ASSERT_EQ(made.exit_code, 0) << made.output;

  auto a = std::make_unique<DaemonProcess>(dir / "rules.toml", dir / "a",
                                           node_args(server.url(), "a", "all"));
  auto b = std::make_unique<DaemonProcess>(dir / "rules.toml", dir / "b",
                                           node_args(server.url(), "b", "all"));
  DaemonProcess h(dir / "rules.toml", dir / "h", node_args(server.url(), "h", "0-3"));

  const std::string mine = subject_in(2);    // h owns it
  const std::string theirs = subject_in(5);  // only a and b do
  std::vector<std::string> subjects = {mine, theirs};
  for (std::uint32_t p = 0; p < kPartitions; ++p) subjects.push_back(subject_in(p) + "x");
  const std::map<std::string, std::int64_t> expected = publish_events(server.url(), subjects);
  ASSERT_EQ(expected.size(), subjects.size());
  ASSERT_TRUE(eventually(
      [&] {
        return score_of(*a, theirs) == expected.at(theirs) &&
               score_of(*b, theirs) == expected.at(theirs) &&
               score_of(h, mine) == expected.at(mine) && score_of(*a, mine) == expected.at(mine);
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50)));

  // h does not own partition 5: moved, naming a and b once it has listed the consumers.
  const std::string moved_answer =
      fmt::format(R"({{"error":{{"code":"moved","message":"{} is in partition 5, not owned by )"
                  R"(node h (it owns 0-3); owners: a, b","partition":5,"owners":["a","b"]}}}})",
                  theirs);
  std::string answer;
  EXPECT_TRUE(eventually(
      [&] {
        answer = h.ask(fmt::format(R"({{"op":"score","subject":"{}"}})", theirs));
        return answer == moved_answer;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100)))
      << answer;
  for (const char* op : {"explain", "history"}) {
    EXPECT_EQ(h.ask(fmt::format(R"({{"op":"{}","subject":"{}"}})", op, theirs)), moved_answer)
        << op;
  }
  // What it owns, it answers.
  EXPECT_EQ(score_of(h, mine), expected.at(mine));

  // The file: a first, then b, then h (owner of 0-3).
  const std::string header = fmt::format("partitions = {}\n\n", kPartitions);
  write_file(dir / "cluster.toml", header + node_table("a", *a, "all") +
                                       node_table("b", *b, "all") + node_table("h", h, "0-3"));
  for (const auto& [subject, score] : expected) {
    const ProgramResult asked = tally_cluster(dir / "cluster.toml", {"--json", "score", subject});
    EXPECT_EQ(asked.exit_code, 0) << asked.output;
    EXPECT_NE(asked.output.find(fmt::format(R"("subject":"{}","score":{},)", subject, score)),
              std::string::npos)
        << subject << ": " << asked.output;
  }
  const ProgramResult printed = tally_cluster(dir / "cluster.toml", {"--verbose", "score", theirs});
  EXPECT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find(fmt::format("{}  score {}  tier", theirs, expected.at(theirs))),
            std::string::npos)
      << printed.output;
  EXPECT_NE(printed.output.find("tally: answered by node a (" + a->query() + ")"),
            std::string::npos)
      << printed.output;

  // A file out of date (it says h owns everything, and lists h first): h
  // answers moved, and tally asks the owners h names.
  write_file(dir / "stale.toml", header + node_table("h", h, "all") + node_table("b", *b, "all") +
                                     node_table("a", *a, "all"));
  const ProgramResult followed =
      tally_cluster(dir / "stale.toml", {"--verbose", "--json", "explain", theirs});
  EXPECT_EQ(followed.exit_code, 0) << followed.output;
  EXPECT_NE(followed.output.find("tally: node h answered moved: " + theirs + " is in partition 5"),
            std::string::npos)
      << followed.output;
  EXPECT_NE(followed.output.find("tally: answered by node a"), std::string::npos)
      << "h names a before b" << followed.output;
  EXPECT_NE(followed.output.find(fmt::format(R"("score":{},)", expected.at(theirs))),
            std::string::npos)
      << followed.output;

  // top over the cluster: every node's answer merged, each subject once, exact.
  const ProgramResult top = tally_cluster(dir / "cluster.toml", {"--json", "top", "100"});
  EXPECT_EQ(top.exit_code, 0) << top.output;
  for (const auto& [subject, score] : expected) {
    const std::string entry = fmt::format(R"({{"subject":"{}","score":{},)", subject, score);
    const std::size_t at = top.output.find(entry);
    EXPECT_NE(at, std::string::npos) << subject << ": " << top.output;
    EXPECT_EQ(top.output.find(entry, at + 1), std::string::npos) << "twice: " << subject;
  }

  // a is down (listed first): its owners' queries fail over to b, within
  // the node timeout.
  EXPECT_EQ(a->terminate(), 0);
  a.reset();
  for (const std::string& subject : {mine, theirs}) {
    const ProgramResult failed_over =
        tally_cluster(dir / "cluster.toml", {"--verbose", "--json", "score", subject});
    EXPECT_EQ(failed_over.exit_code, 0) << failed_over.output;
    EXPECT_NE(failed_over.output.find("tally: node a: no answer from"), std::string::npos)
        << failed_over.output;
    EXPECT_NE(failed_over.output.find("tally: answered by node b"), std::string::npos)
        << failed_over.output;
    EXPECT_NE(failed_over.output.find(fmt::format(R"("score":{},)", expected.at(subject))),
              std::string::npos)
        << failed_over.output;
  }
  // stats goes to the first node that answers.
  const ProgramResult stats = tally_cluster(dir / "cluster.toml", {"--verbose", "stats"});
  EXPECT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("tally: answered by node b"), std::string::npos) << stats.output;

  // No owner of partition 5 left: exit 2, naming each owner and why.
  EXPECT_EQ(b->terminate(), 0);
  b.reset();
  const ProgramResult none = tally_cluster(dir / "cluster.toml", {"score", theirs});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(
      none.output.find(fmt::format("no owner of {} (partition 5) answered; a: no answer", theirs)),
      std::string::npos)
      << none.output;
  // top from h alone leaves out 4-7, and says so.
  const ProgramResult partial = tally_cluster(dir / "cluster.toml", {"--json", "top"});
  EXPECT_EQ(partial.exit_code, 2) << partial.output;
  EXPECT_NE(
      partial.output.find(fmt::format(R"({{"subject":"{}","score":{},)", mine, expected.at(mine))),
      std::string::npos)
      << partial.output;
  EXPECT_NE(partial.output.find("tally: top leaves out partitions 4-7"), std::string::npos)
      << partial.output;
  // h still answers for its own partitions.
  const ProgramResult own = tally_cluster(dir / "cluster.toml", {"--json", "score", mine});
  EXPECT_EQ(own.exit_code, 0) << own.output;
  // Other commands are not routed.
  EXPECT_EQ(tally_cluster(dir / "cluster.toml", {"reload"}).exit_code, 2);
}

}  // namespace
}  // namespace tally::testing
