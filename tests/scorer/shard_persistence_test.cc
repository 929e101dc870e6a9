// How a shard becomes storage records: a table written as a snapshot part
// reads back as one record per contribution and one per revoke, with the
// terms each was applied with.
#include "scorer/shard_persistence.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <random>

#include "scorer/rules.h"
#include "storage/recovery.h"
#include "storage/state_dir.h"
#include "tests/support/files.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;
using storage::journal::Record;

std::shared_ptr<const RuleSet> rules() {
  static const auto loaded = parse_rules("[rules.fine]\npoints = 4\nexpires_after = \"10d\"\n",
                                         "shard_persistence_test.toml", 5)
                                 .value();
  return loaded;
}

Event event_of(std::string_view id, std::string_view subject) {
  Event event;
  event.id.assign(id);
  event.subject.assign(subject);
  event.source.assign("cam");
  event.type = rules()->resolve("fine");
  event.time_ms = 1'000;
  return event;
}

class ShardPersistenceTest : public ::testing::Test {
 protected:
  // Writes `table` as the one part of snapshot `generation` and reads it back.
  std::vector<Record> round_trip(const SubjectTable& table, std::uint64_t generation) {
    storage::Env* env = storage::Env::posix();
    const storage::SnapshotPartResult part =
        write_snapshot_part(table, env, dir_.string(), generation, 0);
    EXPECT_TRUE(part.status.is_ok()) << part.status.to_string();
    EXPECT_TRUE(storage::complete_snapshot(env, dir_.string(), generation, 1).is_ok());
    const auto files = storage::scan_state_dir(env, dir_.string());
    EXPECT_TRUE(files.is_ok()) << files.status().to_string();
    std::vector<Record> records;
    texts_.clear();
    const auto read = storage::read_state(env, *files, [&](const Record& record) {
      // The views die with the call: keep copies of what the test looks at.
      Record kept = record;
      for (std::string_view* field : {&kept.id, &kept.subject, &kept.type, &kept.revokes}) {
        *field = texts_.emplace_back(*field);
      }
      records.push_back(kept);
    });
    EXPECT_TRUE(read.is_ok()) << read.status().to_string();
    return records;
  }

  tally::testing::TempDir scratch_{"persistence"};
  fs::path dir_ = scratch_.path();
  std::deque<std::string> texts_;
};

TEST_F(ShardPersistenceTest, ATableReadsBackWithTheTermsEachEventWasAppliedWith) {
  InternTable interns;
  SubjectTable table(interns);
  for (int i = 0; i < 10; ++i) table.apply(event_of(fmt::format("e{}", i), fmt::format("s{}", i)));
  const std::vector<Record> records = round_trip(table, 4);
  ASSERT_EQ(records.size(), 10u);
  for (const Record& record : records) {
    EXPECT_EQ(record.kind, storage::journal::RecordKind::kEvent);
    EXPECT_EQ(record.type, "fine");
    EXPECT_EQ(record.points, 4);
    EXPECT_EQ(record.expires_after_ms, 10 * 86'400'000LL);
    EXPECT_EQ(record.rules_version, 5u);
    EXPECT_EQ(record.subject.substr(1), record.id.substr(1));  // e3 belongs to s3
  }
}

TEST_F(ShardPersistenceTest, ASnapshotHoldsContributionsAndEveryRevoke) {
  InternTable interns;
  SubjectTable table(interns);
  table.apply(event_of("e1", "s"));
  const auto* revoke_terms = rules()->resolve("revoke");
  ASSERT_NE(revoke_terms, nullptr);
  for (const char* id : {"r1", "r2"}) {  // two revokes of one event, and one pending
    Event revoke = event_of(id, "s");
    revoke.type = revoke_terms;
    revoke.revokes.assign("e1");
    table.apply(revoke);
  }
  Event pending = event_of("r3", "s");
  pending.type = revoke_terms;
  pending.revokes.assign("not-yet");
  table.apply(pending);
  std::vector<std::string> seen;
  for (const Record& record : round_trip(table, 1)) {
    seen.push_back(std::string(record.id) + ">" + std::string(record.revokes));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"e1>", "r1>e1", "r2>e1", "r3>not-yet"}));
}

}  // namespace
}  // namespace tally::scorer
