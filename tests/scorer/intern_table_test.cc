// InternTable: refs are stable and shared, the cap is per object (one table
// filled to its cap leaves every other one untouched), and workers interning
// at the same time get the same refs (run under ThreadSanitizer too).
#include "scorer/intern_table.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace tally::scorer {
namespace {

TEST(InternTableTest, TheSameValueHasTheSameRef) {
  InternTable interns;
  Rule fine;
  fine.name = "fine";
  Rule credit;
  credit.name = "credit";
  const std::uint16_t fine_ref = interns.intern_rule(&fine);
  EXPECT_EQ(interns.intern_rule(&credit), fine_ref + 1);
  EXPECT_EQ(interns.intern_rule(&fine), fine_ref);
  EXPECT_EQ(&interns.rule_at(fine_ref), &fine);

  const std::uint16_t camera = interns.intern_source("cam-1");
  EXPECT_EQ(interns.intern_source(std::string("cam-") + "1"), camera);
  EXPECT_NE(interns.intern_source("cam-2"), camera);
  EXPECT_EQ(interns.source_at(camera), "cam-1");
  EXPECT_EQ(interns.source_at(interns.intern_source("")), "");
}

TEST(InternTableTest, PastItsCapAValueIsSpilledAndOtherTablesAreUntouched) {
  InternTable full(3);
  EXPECT_EQ(full.capacity(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(full.intern_source(fmt::format("s{}", i)), i);
  EXPECT_EQ(full.intern_source("s3"), InternTable::kSpilled);
  EXPECT_EQ(full.intern_source("s1"), InternTable::kSpilled);  // full: not even looked up
  EXPECT_EQ(full.source_at(1), "s1");                          // what it holds stays
  std::deque<Rule> rules(4);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(full.intern_rule(&rules[i]), i);
  EXPECT_EQ(full.intern_rule(&rules[3]), InternTable::kSpilled);

  // Nothing is process-wide: another table starts empty.
  InternTable fresh(3);
  EXPECT_EQ(fresh.intern_source("s3"), 0);
  EXPECT_EQ(fresh.intern_rule(&rules[3]), 0);
  EXPECT_EQ(InternTable(InternTable::kMaxEntries + 10).capacity(), InternTable::kMaxEntries);
}

TEST(InternTableTest, WorkersInterningAtOnceAgreeOnEveryRef) {
  InternTable interns;
  std::deque<Rule> rules(50);
  constexpr int kWorkers = 4;
  std::vector<std::vector<std::uint16_t>> seen(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      // Each worker in its own order; every ref read back at once.
      for (int k = 0; k < 200; ++k) {
        const int i = (k * (w + 1) + w) % 200;
        const std::uint16_t source = interns.intern_source(fmt::format("source-{}", i));
        const std::uint16_t rule = interns.intern_rule(&rules[static_cast<std::size_t>(i % 50)]);
        EXPECT_EQ(interns.source_at(source), fmt::format("source-{}", i));
        EXPECT_EQ(&interns.rule_at(rule), &rules[static_cast<std::size_t>(i % 50)]);
      }
      for (int i = 0; i < 200; ++i) {
        seen[static_cast<std::size_t>(w)].push_back(
            interns.intern_source(fmt::format("source-{}", i)));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int w = 1; w < kWorkers; ++w) EXPECT_EQ(seen[static_cast<std::size_t>(w)], seen[0]);
  EXPECT_EQ(interns.intern_source("one more"), 200);
  EXPECT_EQ(interns.intern_rule(&rules[0]) < 50, true);
}

}  // namespace
}  // namespace tally::scorer
