// Reading state back: snapshot parts written whole or refused, journal torn
// tails cut and reported, damage anywhere else refused with file and offset.
#include "storage/recovery.h"

#include <gtest/gtest.h>

#include "storage/fault_injection_env.h"
#include "storage/journal_writer.h"
#include "storage/snapshot_writer.h"
#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

namespace fs = std::filesystem;
using testing::read_bytes;
using testing::recovered_ids;
using testing::sample_record;
using testing::ScratchDir;
using testing::write_bytes;

const std::vector<std::string> kIds = {"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"};

std::vector<std::string> first_ids(std::size_t n) { return {kIds.begin(), kIds.begin() + n}; }

// A journal holding the first `records` of kIds, as a worker leaves it.
std::string write_journal(const ScratchDir& dir, std::size_t records) {
  JournalOptions options;
  options.enabled = true;
  options.dir = dir.str();
  JournalWriter writer(Env::posix(), options, 0);
  EXPECT_TRUE(writer.start_generation(1).is_ok());
  for (std::size_t i = 0; i < records; ++i) writer.append(sample_record(kIds[i], "s"));
  EXPECT_TRUE(writer.flush(true, 0).is_ok());
  return writer.path();
}

// Snapshot 4 of one worker holding the first `records` of kIds, complete.
std::string write_snapshot(Env* env, const ScratchDir& dir, std::size_t records) {
  SnapshotPartWriter writer(env, dir.str(), 4, 0);
  for (std::size_t i = 0; i < records; ++i) writer.add(sample_record(kIds[i], "s"));
  const SnapshotPartResult part = writer.finish();
  EXPECT_TRUE(part.status.is_ok()) << part.status.to_string();
  EXPECT_EQ(part.records, records);
  EXPECT_TRUE(complete_snapshot(env, dir.str(), 4, 1).is_ok());
  return part.path;
}

// Recovery of `dir` is refused as damage, the message naming `path` and
// holding each of `details` (an offset, what is wrong).
void expect_refused(const ScratchDir& dir, const std::string& path,
                    std::initializer_list<std::string> details) {
  const auto ids = recovered_ids(Env::posix(), dir.str());
  ASSERT_FALSE(ids.is_ok());
  EXPECT_EQ(ids.status().code(), Status::Code::kCorruption);
  const std::string what = ids.status().to_string();
  EXPECT_NE(what.find(path), std::string::npos) << what;
  for (const std::string& detail : details) {
    EXPECT_NE(what.find(detail), std::string::npos) << what;
  }
}

// --- journals ---

TEST(JournalRecoveryTest, ATornTailIsCutAndReported) {
  const ScratchDir dir("torn");
  const std::string path = write_journal(dir, 3);
  const std::string whole = read_bytes(path);
  write_bytes(path, whole.substr(0, whole.size() - 5));  // the crash came mid-write
  RecoveryReport report;
  auto ids = recovered_ids(Env::posix(), dir.str(), &report);
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, first_ids(2));
  ASSERT_EQ(report.repaired.size(), 1u);
  EXPECT_NE(report.repaired[0].find("record cut short"), std::string::npos) << report.repaired[0];
  // Cut for good: a second recovery reads the same and repairs nothing.
  ids = recovered_ids(Env::posix(), dir.str(), &report);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, first_ids(2));
  EXPECT_TRUE(report.repaired.empty());
}

TEST(JournalRecoveryTest, GarbageAfterTheLastRecordIsATornTailToo) {
  const ScratchDir dir("zeros");
  const std::string path = write_journal(dir, 3);
  write_bytes(path, read_bytes(path) + std::string(100, '\0'));  // extended, never written
  RecoveryReport report;
  const auto ids = recovered_ids(Env::posix(), dir.str(), &report);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, first_ids(3));
  EXPECT_EQ(report.repaired.size(), 1u);
}

TEST(JournalRecoveryTest, AJournalWithoutAWholeHeaderIsCutToNothing) {
  const ScratchDir dir("header");
  const std::string path = write_journal(dir, 1);
  write_bytes(path, read_bytes(path).substr(0, 9));
  RecoveryReport report;
  const auto ids = recovered_ids(Env::posix(), dir.str(), &report);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_TRUE(ids->empty());
  ASSERT_EQ(report.repaired.size(), 1u);
  EXPECT_NE(report.repaired[0].find("no complete header"), std::string::npos);
  EXPECT_EQ(fs::file_size(path), 0u);
}

TEST(JournalRecoveryTest, DamageInTheMiddleOfAJournalStopsWithFileAndOffset) {
  const ScratchDir dir("middle");
  const std::string path = write_journal(dir, 3);
  std::string bytes = read_bytes(path);
  const std::size_t second_record = journal::kFileHeaderBytes + (bytes.size() - 16) / 3;
  bytes[second_record + 12] ^= 0x40;
  write_bytes(path, bytes);
  expect_refused(dir, path, {"offset " + std::to_string(second_record), "checksum"});
  EXPECT_EQ(read_bytes(path), bytes);  // nothing was cut
}

TEST(JournalRecoveryTest, AJournalOfAnotherFormatVersionIsRefused) {
  const ScratchDir dir("version");
  const std::string path = write_journal(dir, 1);
  std::string bytes = read_bytes(path);
  bytes[8] = 9;
  write_bytes(path, bytes);
  expect_refused(dir, path, {": offset 0: format version 9"});
}

// --- snapshot parts ---

TEST(SnapshotRecoveryTest, APartIsWrittenWholeAndReadBack) {
  const ScratchDir dir("part");
  const std::string path = write_snapshot(Env::posix(), dir, 10);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  RecoveryReport report;
  const auto ids = recovered_ids(Env::posix(), dir.str(), &report);
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, kIds);
  EXPECT_EQ(report.snapshot_generation, 4u);
  EXPECT_EQ(report.snapshot_records, 10u);
}

TEST(SnapshotRecoveryTest, AFlippedByteInAPartStopsWithFileAndOffset) {
  const ScratchDir dir("flipped");
  const std::string path = write_snapshot(Env::posix(), dir, 10);
  std::string bytes = read_bytes(path);
  bytes[bytes.size() / 2] ^= 0x01;
  write_bytes(path, bytes);
  expect_refused(dir, path, {"offset "});
}

TEST(SnapshotRecoveryTest, APartCutShortIsRefusedEvenAtARecordBoundary) {
  const ScratchDir dir("cut");
  const std::string path = write_snapshot(Env::posix(), dir, 10);
  write_bytes(path, read_bytes(path).substr(0, journal::kFileHeaderBytes));
  expect_refused(dir, path, {"offset 16", "no end record"});
}

TEST(SnapshotRecoveryTest, AnUnfinishedPartLeavesNothingBehind) {
  const ScratchDir dir("unfinished");
  {
    SnapshotPartWriter writer(Env::posix(), dir.str(), 1, 0);
    writer.add(sample_record(kIds[0], "s"));
  }
  const auto names = Env::posix()->list_dir(dir.str());
  ASSERT_TRUE(names.is_ok());
  EXPECT_TRUE(names->empty());
}

TEST(SnapshotRecoveryTest, APartThatCannotBeWrittenSaysWhyAndLeavesNothingBehind) {
  const ScratchDir dir("nospace");
  FaultInjectionEnv env(Env::posix());
  env.limit_space(100);
  SnapshotPartWriter writer(&env, dir.str(), 1, 0);
  for (const std::string& id : kIds) writer.add(sample_record(id, "s"));
  const SnapshotPartResult part = writer.finish();
  EXPECT_EQ(part.status.sys_errno(), ENOSPC);
  EXPECT_NE(part.status.to_string().find("snapshot-00000001-w0000.ts.tmp"), std::string::npos)
      << part.status.to_string();
  const auto names = env.list_dir(dir.str());
  ASSERT_TRUE(names.is_ok());
  EXPECT_TRUE(names->empty());
}

// A power cut at any point of writing a part and completing the snapshot
// leaves either the whole new snapshot or none of it — never a marker
// without its part, never a part that recovery would refuse.
TEST(SnapshotRecoveryTest, APowerCutLeavesTheWholeSnapshotOrNoneOfIt) {
  for (std::uint64_t allowed = 0; allowed < 12; ++allowed) {
    SCOPED_TRACE(allowed);
    const ScratchDir dir("snapshot-cut");
    FaultInjectionEnv env(Env::posix());
    env.cut_power_after(allowed);
    {
      SnapshotPartWriter writer(&env, dir.str(), 4, 0);
      for (const std::string& id : kIds) writer.add(sample_record(id, "s"));
      ASSERT_TRUE(writer.finish().status.is_ok());
    }
    ASSERT_TRUE(complete_snapshot(&env, dir.str(), 4, 1).is_ok());
    ASSERT_TRUE(env.drop_unsynced_data().is_ok());
    RecoveryReport report;
    const auto ids = recovered_ids(&env, dir.str(), &report);
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    if (report.snapshot_generation.has_value()) {
      EXPECT_EQ(*ids, kIds);
    } else {
      EXPECT_TRUE(ids->empty());
    }
    if (allowed >= 10) {
      EXPECT_EQ(report.snapshot_generation, 4u) << "the marker was durable";
    }
  }
}

}  // namespace
}  // namespace tally::storage
