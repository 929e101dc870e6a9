// The file-system seam: the POSIX Env does what its header says (and creates
// nothing anyone else can read), and the fault-injecting Env loses, refuses
// and runs out of space exactly as its header says.
#include "storage/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "storage/fault_injection_env.h"
#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

mode_t permissions(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

// Writes `bytes` to a new file through `env` and returns it open.
std::unique_ptr<WritableFile> open_and_write(Env& env, const std::string& path,
                                             std::string_view bytes,
                                             OpenMode mode = OpenMode::kTruncate) {
  auto file = env.new_writable_file(path, mode);
  EXPECT_TRUE(file.is_ok()) << file.status().to_string();
  if (!file.is_ok()) return nullptr;
  EXPECT_TRUE((*file)->append(bytes).is_ok());
  return std::move(*file);
}

// --- the POSIX Env ---

TEST(PosixEnvTest, FilesAreCreatedOwnerOnlyAndDirectoriesToo) {
  const ScratchDir scratch("modes");
  Env* env = Env::posix();
  const std::string dir = scratch.file("a/b/c");
  ASSERT_TRUE(env->create_dir(dir).is_ok());
  EXPECT_EQ(permissions(scratch.file("a")), 0700u);
  EXPECT_EQ(permissions(dir), 0700u);
  ASSERT_TRUE(env->create_dir(dir).is_ok()) << "an existing directory is fine";

  auto file = open_and_write(*env, dir + "/f", "x");
  EXPECT_EQ(permissions(dir + "/f"), 0600u);
  auto lock = env->lock_file(dir + "/LOCK");
  ASSERT_TRUE(lock.is_ok());
  EXPECT_EQ(permissions(dir + "/LOCK"), 0600u);
}

TEST(PosixEnvTest, AppendModeKeepsTheBytesAndTruncateModeStartsEmpty) {
  const ScratchDir scratch("modes");
  Env* env = Env::posix();
  const std::string path = scratch.file("f");
  {
    auto file = open_and_write(*env, path, "hello ");
    EXPECT_EQ(file->size(), 6u);
    ASSERT_TRUE(file->sync().is_ok());
    ASSERT_TRUE(file->close().is_ok());
  }
  {
    auto file = open_and_write(*env, path, "world", OpenMode::kAppend);
    EXPECT_EQ(file->size(), 11u);
  }
  EXPECT_EQ(read_bytes(path), "hello world");
  auto file = open_and_write(*env, path, "new");
  EXPECT_EQ(file->size(), 3u);
  EXPECT_EQ(read_bytes(path), "new");
}

TEST(PosixEnvTest, ReadFileSeesTheWholeFileAndAnEmptyOne) {
  const ScratchDir scratch("read");
  Env* env = Env::posix();
  const std::string big(3 << 20, 'z');
  write_bytes(scratch.file("big"), big);
  write_bytes(scratch.file("empty"), "");
  auto contents = env->read_file(scratch.file("big"));
  ASSERT_TRUE(contents.is_ok()) << contents.status().to_string();
  EXPECT_EQ((*contents)->bytes(), big);
  auto empty = env->read_file(scratch.file("empty"));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE((*empty)->bytes().empty());
}

TEST(PosixEnvTest, DirectoryOperationsDoWhatTheySay) {
  const ScratchDir scratch("dir");
  Env* env = Env::posix();
  write_bytes(scratch.file("a"), "0123456789");
  std::filesystem::create_directory(scratch.path() / "sub");  // not a file: not listed

  ASSERT_TRUE(env->rename(scratch.file("a"), scratch.file("b")).is_ok());
  EXPECT_FALSE(env->file_exists(scratch.file("a")));
  EXPECT_TRUE(env->file_exists(scratch.file("b")));
  ASSERT_TRUE(env->truncate(scratch.file("b"), 4).is_ok());
  EXPECT_EQ(read_bytes(scratch.file("b")), "0123");
  write_bytes(scratch.file("c"), "");
  auto names = env->list_dir(scratch.str());
  ASSERT_TRUE(names.is_ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"b", "c"}));
  ASSERT_TRUE(env->remove(scratch.file("c")).is_ok());
  EXPECT_FALSE(env->file_exists(scratch.file("c")));
  EXPECT_TRUE(env->sync_dir(scratch.str()).is_ok());
}

TEST(PosixEnvTest, FailuresAreIoErrorsNamingThePathWithTheirErrno) {
  const ScratchDir scratch("fail");
  Env* env = Env::posix();
  const std::string missing = scratch.file("no/such/file");
  const auto file = env->new_writable_file(missing, OpenMode::kTruncate);
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.status().code(), Status::Code::kIoError);
  EXPECT_EQ(file.status().sys_errno(), ENOENT);
  EXPECT_NE(file.status().to_string().find(missing), std::string::npos)
      << file.status().to_string();
  EXPECT_EQ(env->read_file(missing).status().sys_errno(), ENOENT);
  EXPECT_EQ(env->rename(missing, scratch.file("x")).sys_errno(), ENOENT);
  EXPECT_EQ(env->remove(missing).sys_errno(), ENOENT);
  EXPECT_EQ(env->list_dir(missing).status().sys_errno(), ENOENT);
  write_bytes(scratch.file("plain"), "x");
  EXPECT_EQ(env->create_dir(scratch.file("plain")).sys_errno(), ENOTDIR);
}

TEST(PosixEnvTest, ASecondLockIsRefusedNamingTheHoldersPid) {
  const ScratchDir scratch("lock");
  Env* env = Env::posix();
  const std::string path = scratch.file("LOCK");
  {
    auto first = env->lock_file(path);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    const auto second = env->lock_file(path);
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), Status::Code::kBusy);
    EXPECT_NE(second.status().to_string().find("pid " + std::to_string(::getpid())),
              std::string::npos)
        << second.status().to_string();
  }
  EXPECT_TRUE(env->lock_file(path).is_ok()) << "released with its owner";
}

// --- the fault-injecting Env ---

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  ScratchDir scratch_{"fault"};
  FaultInjectionEnv env_{Env::posix()};
};

TEST_F(FaultInjectionEnvTest, APowerCutKeepsEachFileUpToItsLastSync) {
  const std::string a = scratch_.file("a");
  const std::string b = scratch_.file("b");
  auto first = open_and_write(env_, a, "synced");
  auto second = open_and_write(env_, b, "never synced");
  ASSERT_TRUE(first->sync().is_ok());
  ASSERT_TRUE(env_.sync_dir(scratch_.str()).is_ok());
  ASSERT_TRUE(first->append(" and lost").is_ok());
  EXPECT_EQ(read_bytes(a), "synced and lost");  // the writer saw it go through

  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_EQ(read_bytes(a), "synced");
  EXPECT_EQ(read_bytes(b), "");
}

TEST_F(FaultInjectionEnvTest, AFileCreatedSinceItsDirectoryWasSyncedDisappears) {
  const std::string path = scratch_.file("new");
  auto file = open_and_write(env_, path, "data");
  ASSERT_TRUE(file->sync().is_ok());  // its data, not its name
  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_FALSE(env_.file_exists(path));
}

TEST_F(FaultInjectionEnvTest, ARenameNotYetMadeDurableIsUndone) {
  const std::string temporary = scratch_.file("part.tmp");
  const std::string final_name = scratch_.file("part");
  auto file = open_and_write(env_, temporary, "whole");
  ASSERT_TRUE(file->sync().is_ok());
  ASSERT_TRUE(env_.sync_dir(scratch_.str()).is_ok());
  ASSERT_TRUE(file->close().is_ok());
  ASSERT_TRUE(env_.rename(temporary, final_name).is_ok());

  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_FALSE(env_.file_exists(final_name));
  EXPECT_EQ(read_bytes(temporary), "whole");
}

TEST_F(FaultInjectionEnvTest, ARenamedNewFileIsGoneUnderBothNamesUnlessTheDirectoryWasSynced) {
  for (const bool sync_dir : {false, true}) {
    const std::string temporary = scratch_.file("marker.tmp");
    const std::string final_name = scratch_.file("marker");
    {
      auto file = open_and_write(env_, temporary, "done");
      ASSERT_TRUE(file->sync().is_ok());
    }
    ASSERT_TRUE(env_.rename(temporary, final_name).is_ok());
    // A trailing separator names the same directory.
    if (sync_dir) {
      ASSERT_TRUE(env_.sync_dir(scratch_.str() + "/").is_ok());
    }
    ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
    EXPECT_FALSE(env_.file_exists(temporary));
    EXPECT_EQ(env_.file_exists(final_name), sync_dir);
    if (sync_dir) {
      EXPECT_EQ(read_bytes(final_name), "done");
    }
  }
}

TEST_F(FaultInjectionEnvTest, AppendingToAnOldFileKeepsWhatItHeld) {
  const std::string path = scratch_.file("old");
  write_bytes(path, "before ");
  auto file = open_and_write(env_, path, "after", OpenMode::kAppend);
  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_EQ(read_bytes(path), "before ");
}

TEST_F(FaultInjectionEnvTest, AfterTheCutWritersSeeSuccessButNothingReachesTheDisk) {
  const std::string path = scratch_.file("j");
  auto file = open_and_write(env_, path, "kept");
  ASSERT_TRUE(file->sync().is_ok());
  ASSERT_TRUE(env_.sync_dir(scratch_.str()).is_ok());
  env_.cut_power();
  EXPECT_TRUE(env_.power_is_cut());
  EXPECT_TRUE(file->append(" lost").is_ok());
  EXPECT_TRUE(file->sync().is_ok());
  EXPECT_EQ(file->size(), 9u);
  EXPECT_TRUE(open_and_write(env_, scratch_.file("later"), "x") != nullptr);
  EXPECT_TRUE(env_.rename(path, scratch_.file("moved")).is_ok());
  EXPECT_TRUE(env_.remove(path).is_ok());
  EXPECT_EQ(read_bytes(path), "kept");
  EXPECT_FALSE(env_.file_exists(scratch_.file("later")));
  EXPECT_FALSE(env_.file_exists(scratch_.file("moved")));

  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_FALSE(env_.power_is_cut());
  EXPECT_EQ(read_bytes(path), "kept");
  // The process that held `file` is gone: its handle fails now.
  const Status stale = file->append("!");
  EXPECT_EQ(stale.sys_errno(), EIO);
  EXPECT_EQ(read_bytes(path), "kept");
}

TEST_F(FaultInjectionEnvTest, ThePowerGoesAfterTheCountedOperations) {
  env_.cut_power_after(3);  // create, append, sync: then nothing
  auto file = open_and_write(env_, scratch_.file("f"), "one");
  ASSERT_TRUE(file->sync().is_ok());
  EXPECT_FALSE(env_.power_is_cut());
  EXPECT_EQ(env_.operations(), 3u);
  ASSERT_TRUE(env_.sync_dir(scratch_.str()).is_ok());
  EXPECT_TRUE(env_.power_is_cut());
  ASSERT_TRUE(env_.drop_unsynced_data().is_ok());
  EXPECT_FALSE(env_.file_exists(scratch_.file("f"))) << "its directory sync came too late";
}

TEST_F(FaultInjectionEnvTest, TheNthWriteFailsOnceAndWritesNothing) {
  auto file = open_and_write(env_, scratch_.file("f"), "a");
  env_.fail_write(2, EIO);
  EXPECT_TRUE(file->append("b").is_ok());
  const Status failed = file->append("c");
  EXPECT_EQ(failed.code(), Status::Code::kIoError);
  EXPECT_EQ(failed.sys_errno(), EIO);
  EXPECT_EQ(file->size(), 2u);
  EXPECT_TRUE(file->append("d").is_ok());
  EXPECT_EQ(read_bytes(scratch_.file("f")), "abd");
}

TEST_F(FaultInjectionEnvTest, AWritePastByteNWritesUpToNAndFailsUntilCleared) {
  auto journal = open_and_write(env_, scratch_.file("x.tj"), "");
  auto other = open_and_write(env_, scratch_.file("x.ts"), "");
  env_.fail_writes_past(5, ".tj");
  const Status failed = journal->append("0123456789");
  EXPECT_EQ(failed.sys_errno(), EIO);
  EXPECT_EQ(journal->size(), 5u);
  EXPECT_FALSE(journal->append("56789").is_ok());
  EXPECT_EQ(journal->size(), 5u);
  EXPECT_TRUE(other->append("0123456789").is_ok()) << "only the named files";
  env_.clear_write_faults();
  EXPECT_TRUE(journal->append("56789").is_ok());
  EXPECT_EQ(read_bytes(scratch_.file("x.tj")), "0123456789");
}

TEST_F(FaultInjectionEnvTest, AFullDiskFailsWithEnospcUntilThereIsSpaceAgain) {
  auto first = open_and_write(env_, scratch_.file("a"), "");
  auto second = open_and_write(env_, scratch_.file("b"), "");
  env_.limit_space(8);
  EXPECT_TRUE(first->append("12345").is_ok());
  const Status full = second->append("67890");
  EXPECT_EQ(full.sys_errno(), ENOSPC);
  EXPECT_EQ(second->size(), 3u);  // what fitted
  EXPECT_EQ(second->append("x").sys_errno(), ENOSPC);
  env_.lift_space_limit();
  EXPECT_TRUE(second->append("90").is_ok());
  EXPECT_EQ(read_bytes(scratch_.file("b")), "67890");
}

}  // namespace
}  // namespace tally::storage
