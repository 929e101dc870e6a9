#include "core/partitions.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TEST(Partitions, ParsesRangesAndListsAndPrintsThemBack) {
  const Result<PartitionSet> set = PartitionSet::parse("0-3, 10,7-8,3", 16);
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  EXPECT_EQ(set->list(), (std::vector<std::uint32_t>{0, 1, 2, 3, 7, 8, 10}));
  EXPECT_EQ(set->to_string(), "0-3,7-8,10");
  EXPECT_TRUE(PartitionSet::parse(set->to_string(), 16)->list() == set->list());
  EXPECT_TRUE(PartitionSet::parse("all", 16)->is_all());
  EXPECT_EQ(PartitionSet::all(64).to_string(), "0-63");
}

TEST(Partitions, RefusesWhatIsNotASetOfThisStream) {
  EXPECT_EQ(PartitionSet::parse("0-64", 64).status().code(), Status::Code::kOutOfRange);
  EXPECT_EQ(PartitionSet::parse("5-3", 64).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(PartitionSet::parse("x", 64).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(PartitionSet::parse("", 64).status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(PartitionSet::parse("70", 64).status().message().find("0 to 63"), std::string::npos);
}

TEST(Partitions, ASubjectsPartitionFollowsItsKeyGroup) {
  for (const char* subject : {"plate:NY:ABC1234", "person:1", "org:x"}) {
    const std::uint32_t group = key_group_of(stable_hash64(subject));
    EXPECT_EQ(partition_of_subject(subject, 64), group % 64);
    // A coarser split keeps whole finer partitions together.
    EXPECT_EQ(partition_of_subject(subject, 64) % 8, partition_of_subject(subject, 8));
  }
  EXPECT_EQ(partition_subject("TALLY", 7), "tally.events.7");
}

}  // namespace
}  // namespace tally
