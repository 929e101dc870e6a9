// The data directory's bookkeeping: which files recovery reads, what a
// snapshot makes obsolete, the marker that completes a snapshot, the lock.
#include "storage/state_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "storage/fault_injection_env.h"
#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::write_bytes;

TEST(StateDirTest, PicksTheNewestCompleteSnapshotAndTheJournalsAfterIt) {
  const ScratchDir dir("scan");
  for (const char* name :
       {"journal-00000001-w0000-000001.tj", "snapshot-00000002-w0000.ts",
        "snapshot-00000002-w0001.ts", "snapshot-00000002.done", "journal-00000002-w0000-000001.tj",
        "journal-00000002-w0001-000003.tj", "snapshot-00000004-w0000.ts",
        "journal-00000004-w0001-000001.tj", "snapshot-00000005-w0000.ts.tmp", "rejected.ndjson"}) {
    write_bytes(dir.path() / name, "x");
  }
  write_bytes(dir.path() / "snapshot-00000002.done", "workers = 2\n");
  const auto files = scan_state_dir(Env::posix(), dir.str());
  ASSERT_TRUE(files.is_ok()) << files.status().to_string();
  ASSERT_TRUE(files->snapshot_generation.has_value());
  EXPECT_EQ(*files->snapshot_generation, 2u);
  EXPECT_EQ(files->snapshots.size(), 2u);
  ASSERT_EQ(files->journals.size(), 3u);
  EXPECT_EQ(fs::path(files->journals[2]).filename(), "journal-00000004-w0001-000001.tj");
  // Generation 1's journal, the incomplete snapshot 4 and the .tmp are obsolete.
  EXPECT_EQ(files->obsolete.size(), 3u);
  EXPECT_EQ(files->next_generation, 5u);
}

TEST(StateDirTest, AMissingSnapshotPartStopsRecoveryWithItsName) {
  const ScratchDir dir("missing");
  write_bytes(dir.path() / "snapshot-00000003-w0000.ts", "x");
  write_bytes(dir.path() / "snapshot-00000003.done", "workers = 2\n");
  const auto files = scan_state_dir(Env::posix(), dir.str());
  ASSERT_FALSE(files.is_ok());
  EXPECT_EQ(files.status().code(), Status::Code::kCorruption);
  EXPECT_NE(files.status().to_string().find("snapshot-00000003-w0001.ts"), std::string::npos)
      << files.status().to_string();
}

TEST(StateDirTest, AMarkerWithoutAWorkerCountIsRefusedByName) {
  const ScratchDir dir("marker");
  write_bytes(dir.path() / "snapshot-00000003.done", "# cut short\n");
  const auto files = scan_state_dir(Env::posix(), dir.str());
  ASSERT_FALSE(files.is_ok());
  EXPECT_NE(files.status().to_string().find("snapshot-00000003.done"), std::string::npos)
      << files.status().to_string();
}

TEST(StateDirTest, ACompleteSnapshotDeletesEverythingItCovers) {
  const ScratchDir dir("complete");
  for (const char* name :
       {"journal-00000001-w0000-000001.tj", "snapshot-00000001-w0000.ts", "snapshot-00000001.done",
        "journal-00000002-w0000-000001.tj", "snapshot-00000002-w0000.ts",
        "journal-00000003-w0000-000001.tj", "rejected.ndjson"}) {
    write_bytes(dir.path() / name, "x");
  }
  write_bytes(dir.path() / "snapshot-00000001.done", "workers = 1\n");
  ASSERT_TRUE(complete_snapshot(Env::posix(), dir.str(), 2, 1).is_ok());
  auto names = Env::posix()->list_dir(dir.str());
  ASSERT_TRUE(names.is_ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names,
            (std::vector<std::string>{"journal-00000002-w0000-000001.tj",
                                      "journal-00000003-w0000-000001.tj", "rejected.ndjson",
                                      "snapshot-00000002-w0000.ts", "snapshot-00000002.done"}));
  const auto files = scan_state_dir(Env::posix(), dir.str());
  ASSERT_TRUE(files.is_ok());
  EXPECT_EQ(files->snapshot_generation, 2u);
}

TEST(StateDirTest, AMarkerThatCannotBeWrittenFailsNamingItAndLeavesNothingBehind) {
  const ScratchDir dir("nospace");
  write_bytes(dir.path() / "snapshot-00000002-w0000.ts", "x");
  FaultInjectionEnv env(Env::posix());
  env.limit_space(10);
  const Status status = complete_snapshot(&env, dir.str(), 2, 1);
  EXPECT_EQ(status.sys_errno(), ENOSPC);
  EXPECT_NE(status.to_string().find("snapshot-00000002.done: cannot write snapshot marker"),
            std::string::npos)
      << status.to_string();
  EXPECT_FALSE(env.file_exists(dir.file("snapshot-00000002.done")));
  EXPECT_FALSE(env.file_exists(dir.file("snapshot-00000002.done.tmp")));
}

// complete_snapshot() returns only once the marker's name is durable; a
// power cut any time before that leaves the previous state whole.
TEST(StateDirTest, APowerCutBeforeTheMarkerIsDurableLeavesThePreviousSnapshot) {
  for (std::uint64_t allowed = 0; allowed < 7; ++allowed) {
    SCOPED_TRACE(allowed);
    const ScratchDir dir("marker-cut");
    for (const char* name : {"snapshot-00000001-w0000.ts", "journal-00000001-w0000-000001.tj",
                             "snapshot-00000002-w0000.ts"}) {
      write_bytes(dir.path() / name, "x");
    }
    write_bytes(dir.path() / "snapshot-00000001.done", "workers = 1\n");
    FaultInjectionEnv env(Env::posix());
    // The marker takes sync_dir, create, append, sync, rename, sync_dir.
    env.cut_power_after(allowed);
    ASSERT_TRUE(complete_snapshot(&env, dir.str(), 2, 1).is_ok());
    const bool durable = allowed >= 6;
    ASSERT_TRUE(env.drop_unsynced_data().is_ok());
    const auto files = scan_state_dir(&env, dir.str());
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    EXPECT_EQ(files->snapshot_generation, durable ? 2u : 1u);
  }
}

TEST(StateDirTest, TheLockKeepsASecondDaemonOutNamingThePid) {
  const ScratchDir dir("lock");
  {
    auto first = DirLock::acquire(Env::posix(), dir.str());
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    const auto second = DirLock::acquire(Env::posix(), dir.str());
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), Status::Code::kBusy);
    const std::string message = second.status().to_string();
    EXPECT_NE(message.find(std::to_string(::getpid())), std::string::npos) << message;
    EXPECT_NE(message.find("in use by another tallyd"), std::string::npos) << message;
  }
  EXPECT_TRUE(DirLock::acquire(Env::posix(), dir.str()).is_ok()) << "released with its owner";
}

}  // namespace
}  // namespace tally::storage
