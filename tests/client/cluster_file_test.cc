// The cluster file: what it says, what it refuses (with FILE:LINE:COLUMN),
// and who owns a subject by it; and the owners of partitions read from the
// stream's consumer names.
#include "client/cluster_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/partition_owners.h"
#include "tests/support/files.h"

namespace tally::client {
namespace {

constexpr const char* kGood = R"(# three nodes; h owns half
partitions = 8

[[node]]
name = "h"
query = "tcp://127.0.0.1:7103"
partitions = "0-3"

[[node]]
name = "a"
query = "tcp://127.0.0.1:7003"
alerts = "tcp://127.0.0.1:7004"
server_key = "keys/a.pub"
partitions = "all"

[[node]]
name = "b"
query = "tcp://127.0.0.1:7013"
)";

// A subject of partition `wanted` of `partitions`, found by name.
std::string subject_in(std::uint32_t wanted, std::uint32_t partitions) {
  for (int i = 0;; ++i) {
    std::string subject = "plate:NY:" + std::to_string(i);
    if (partition_of_subject(subject, partitions) == wanted) return subject;
  }
}

std::vector<std::string> names(const std::vector<const ClusterNode*>& nodes) {
  std::vector<std::string> out;
  for (const ClusterNode* node : nodes) out.push_back(node->name);
  return out;
}

// The refusal's text, or "" when the file is taken.
std::string refusal(const std::string& text) {
  const Result<ClusterFile> file = ClusterFile::parse(text, "conf/cluster.toml");
  return file ? "" : file.status().to_string();
}

TEST(ClusterFileTest, ReadsNodesInOrderWithTheirEndpointsKeysAndPartitions) {
  const Result<ClusterFile> file = ClusterFile::parse(kGood, "conf/cluster.toml");
  ASSERT_TRUE(file) << file.status().to_string();
  EXPECT_EQ(file->partitions, 8u);
  ASSERT_EQ(file->nodes.size(), 3u);
  EXPECT_EQ(file->nodes[0].name, "h");
  EXPECT_EQ(file->nodes[0].partitions.to_string(), "0-3");
  EXPECT_EQ(file->nodes[0].alerts_endpoint, "");
  EXPECT_EQ(file->nodes[1].query_endpoint, "tcp://127.0.0.1:7003");
  EXPECT_EQ(file->nodes[1].alerts_endpoint, "tcp://127.0.0.1:7004");
  EXPECT_EQ(file->nodes[1].server_key, "conf/keys/a.pub");  // beside the file
  EXPECT_TRUE(file->nodes[2].partitions.is_all());          // the default
  EXPECT_EQ(file->node_named("b"), &file->nodes[2]);
  EXPECT_EQ(file->node_named("c"), nullptr);
}

TEST(ClusterFileTest, TheOwnersOfASubjectAreTheNodesOwningItsPartitionInFileOrder) {
  const Result<ClusterFile> file = ClusterFile::parse(kGood, "cluster.toml");
  ASSERT_TRUE(file) << file.status().to_string();
  EXPECT_EQ(names(file->owners_of(subject_in(2, 8))), (std::vector<std::string>{"h", "a", "b"}));
  EXPECT_EQ(names(file->owners_of(subject_in(5, 8))), (std::vector<std::string>{"a", "b"}));
}

TEST(ClusterFileTest, ABadFileIsRefusedWithItsPlace) {
  EXPECT_EQ(refusal("partitions = 8\n[[node]\n").rfind("conf/cluster.toml:2:8: ", 0), 0u)
      << "not TOML";
  EXPECT_EQ(refusal("partitions = 8\nstream = \"TALLY\"\n"),
            "conf/cluster.toml:2:10: unknown key `stream` (expected partitions and [[node]] "
            "tables)");
  EXPECT_NE(refusal("[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\n").find("`partitions`"),
            std::string::npos);
  EXPECT_EQ(refusal("partitions = 6\n[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\n")
                .rfind("conf/cluster.toml:1:14: `partitions` must be", 0),
            0u);
  EXPECT_EQ(refusal("partitions = 8\n"), "conf/cluster.toml: no [[node]]: a cluster has nodes");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nquery = \"tcp://h:1\"\n"),
            "conf/cluster.toml:2:1: a [[node]] needs `name`");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\n"),
            "conf/cluster.toml:2:1: a [[node]] needs `query`");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\nquery = \"h:1\"\n"),
            "conf/cluster.toml:4:9: `query` must be an endpoint such as tcp://127.0.0.1:7003, "
            "not `h:1`");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a.b\"\nquery = \"tcp://h:1\"\n")
                .rfind("conf/cluster.toml:3:8: node name `a.b`", 0),
            0u);
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\nport = 1\n"),
            "conf/cluster.toml:5:8: unknown key `port` in [[node]] (expected name, query, "
            "alerts, server_key, partitions)");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\n"
                    "partitions = \"0-9\"\n")
                .rfind("conf/cluster.toml:5:14: node `a`: partitions: ", 0),
            0u);
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\n"
                    "[[node]]\nname = \"a\"\nquery = \"tcp://h:2\"\n"),
            "conf/cluster.toml:5:1: two nodes named `a`");
  EXPECT_EQ(refusal("partitions = 8\n[[node]]\nname = \"a\"\nquery = \"tcp://h:1\"\n"
                    "partitions = \"0-3,6\"\n"),
            "conf/cluster.toml: partition 4 has no node: every partition needs an owner to be "
            "asked");
  EXPECT_EQ(refusal("partitions = 8\nnode = 3\n"), "conf/cluster.toml:2:8: use [[node]] tables");
}

TEST(ClusterFileTest, TheShippedExampleIsAGoodFile) {
  const auto path = tally::testing::source_tree() / "config" / "cluster.example.toml";
  const Result<ClusterFile> file = ClusterFile::load(path.string());
  ASSERT_TRUE(file) << file.status().to_string();
  EXPECT_EQ(file->partitions, 64u);
  EXPECT_EQ(names(file->owners_of(subject_in(40, 64))), (std::vector<std::string>{"a", "b"}));
}

TEST(ClusterFileTest, AFileThatCannotBeReadIsNamed) {
  const Result<ClusterFile> file = ClusterFile::load("/nonexistent/cluster.toml");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.status().to_string(), "/nonexistent/cluster.toml: cannot read the cluster file");
}

TEST(PartitionOwnersTest, ConsumerNamesGiveTheNodeAndPartition) {
  EXPECT_EQ(parse_consumer_name("tally_a_p5"), std::make_pair(std::string("a"), 5u));
  EXPECT_EQ(parse_consumer_name("tally_node_p2_p12"), std::make_pair(std::string("node_p2"), 12u));
  EXPECT_FALSE(parse_consumer_name("tally__p5"));
  EXPECT_FALSE(parse_consumer_name("other_a_p5"));
  EXPECT_FALSE(parse_consumer_name("tally_a_p"));
  EXPECT_FALSE(parse_consumer_name("tally_a_px"));
}

TEST(PartitionOwnersTest, OwnersByPartitionAreSortedAndSkipOtherConsumers) {
  std::vector<ConsumerState> consumers;
  const auto consumer = [&](std::string name, std::int64_t partition) {
    ConsumerState state;
    state.name = std::move(name);
    state.partition = partition;
    consumers.push_back(state);
  };
  consumer("tally_b_p1", 1);
  consumer("tally_a_p1", 1);
  consumer("tally_h_p0", 0);
  consumer("tally_a_p0", -1);  // no filter subject known: the name says
  consumer("audit", 1);
  consumer("tally_a_p9", 9);  // out of range
  const PartitionOwners owners = owners_from_consumers(consumers, 4);
  ASSERT_EQ(owners.size(), 4u);
  EXPECT_EQ(owners[0], (std::vector<std::string>{"a", "h"}));
  EXPECT_EQ(owners[1], (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(owners[2].empty());
}

}  // namespace
}  // namespace tally::client
