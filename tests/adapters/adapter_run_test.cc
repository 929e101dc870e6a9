// The parts of an adapter run that keep its accounts: where each published
// event came from (so that tallyd's rejects are traced back to their lines),
// and the rejects file's lines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/event_origins.h"
#include "adapters/rejects_file.h"
#include "tests/support/files.h"

namespace tally::adapters {
namespace {

TEST(EventOriginsTest, RunsOfLinesAreTracedBackEventByEvent) {
  EventOrigins origins;
  // Input 0, lines 2-4; a skipped line 5; lines 6-7; then input 1 from line 2;
  // then JSON array elements 1-2 of input 2.
  for (std::uint64_t line : {2, 3, 4, 6, 7}) origins.note({0, line, false});
  for (std::uint64_t line : {2, 3}) origins.note({1, line, false});
  for (std::uint64_t element : {1, 2}) origins.note({2, element, true});
  const auto where = [&](std::uint64_t event) {
    EventOrigins::Origin origin;
    if (!origins.find(event, origin)) return std::string("none");
    return std::to_string(origin.input) + (origin.element ? "#" : ":") +
           std::to_string(origin.line);
  };
  EXPECT_EQ(where(0), "none");
  EXPECT_EQ(where(1), "0:2");
  EXPECT_EQ(where(3), "0:4");
  EXPECT_EQ(where(4), "0:6");
  EXPECT_EQ(where(5), "0:7");
  EXPECT_EQ(where(6), "1:2");
  EXPECT_EQ(where(7), "1:3");
  EXPECT_EQ(where(8), "2#1");
  EXPECT_EQ(where(9), "2#2");
}

TEST(RejectsFileTest, OneJsonObjectALineCreatedOnlyWhenNeeded) {
  const tally::testing::TempDir scratch("rejects-file");
  const auto& dir = scratch.path();
  const auto path = dir / "rejects.ndjson";
  {
    RejectsFile unused(path.string());
    EXPECT_TRUE(unused.flush());
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "no reject, no file";
  {
    RejectsFile rejects(path.string());
    EXPECT_TRUE(rejects.write({"a.csv", 12, false, "adapter", "bad_time",
                               "\"11/31/2020\": not a date", "A,\"B\",11/31/2020\r"}));
    EXPECT_TRUE(rejects.flush());
    std::ifstream early(path);
    std::stringstream text;
    text << early.rdbuf();
    EXPECT_EQ(text.str(), R"({"input":"a.csv","line":12,"stage":"adapter","reason":"bad_time",)"
                          R"("detail":"\"11/31/2020\": not a date","record":"A,\"B\",11/31/2020"})"
                          "\n")
        << "flushed lines are in the file";
    EXPECT_TRUE(rejects.write({"b.json", 3, true, "tallyd", "unknown_type", {}, {}}));
    EXPECT_EQ(rejects.written(), 2u);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(R"({"input":"b.json","element":3,"stage":"tallyd",)"
                            R"("reason":"unknown_type"})"
                            "\n"),
            std::string::npos)
      << text.str();
}

TEST(RejectsFileTest, AnUnwritablePathIsReported) {
  RejectsFile rejects("/nonexistent-dir/rejects.ndjson");
  EXPECT_FALSE(rejects.write({"a.csv", 1, false, "adapter", "bad_time", {}, {}}));
  EXPECT_FALSE(rejects.ok());
}

}  // namespace
}  // namespace tally::adapters
