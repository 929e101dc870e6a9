// The journal writer: group commit and segments on the real file system, and
// on the fault-injecting one what the durability promise rests on: a write
// cut short resumes exactly, a full disk holds records until it takes them,
// and a power cut leaves a valid prefix holding everything that was settled.
#include "storage/journal_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "storage/fault_injection_env.h"
#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

using journal::ReadStatus;
using journal::Record;
using testing::read_bytes;
using testing::recovered_ids;
using testing::sample_record;
using testing::ScratchDir;

// Records "e0", "e1", ... owning their ids.
class Records {
 public:
  explicit Records(int count) {
    for (int i = 0; i < count; ++i) ids_.push_back(fmt::format("e{}", i));
  }
  Record operator[](std::size_t i) const { return sample_record(ids_[i], "plate:NY:A"); }
  const std::vector<std::string>& ids() const noexcept { return ids_; }
  std::vector<std::string> first(std::size_t n) const { return {ids_.begin(), ids_.begin() + n}; }
  // The bytes of one journal file holding all of them.
  std::string journal_bytes() const {
    std::string bytes = journal::file_header(journal::kJournalMagic);
    for (std::size_t i = 0; i < ids_.size(); ++i) journal::append_record(bytes, (*this)[i]);
    return bytes;
  }

 private:
  std::vector<std::string> ids_;
};

// Inline syncs: flush() returns with the sync done, so these tests can
// check the group commit step by step. The background syncer has its own
// tests below.
JournalOptions options_for(const ScratchDir& dir) {
  JournalOptions options;
  options.enabled = true;
  options.dir = dir.str();
  options.background_sync = false;
  return options;
}

JournalOptions background_options_for(const ScratchDir& dir) {
  JournalOptions options = options_for(dir);
  options.background_sync = true;
  return options;
}

// Calls flush() until `done` holds or 10 s pass; false on the deadline.
template <typename Done>
bool flush_until(JournalWriter& writer, Done&& done, Status* last = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::int64_t now_ms = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const Status flushed = writer.flush(/*acks_waiting=*/true, ++now_ms);
    if (last != nullptr) *last = flushed;
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(JournalWriterTest, WritesSyncsAndSettles) {
  const ScratchDir dir("writer");
  JournalWriter writer(Env::posix(), options_for(dir), 2);
  ASSERT_TRUE(writer.start_generation(7).is_ok());
  EXPECT_EQ(std::filesystem::path(writer.path()).filename(), "journal-00000007-w0002-000001.tj");
  const Records records(2);
  writer.append(records[0]);
  writer.append(records[1]);
  EXPECT_FALSE(writer.settled());
  ASSERT_TRUE(writer.flush(/*acks_waiting=*/true, 0).is_ok());
  EXPECT_TRUE(writer.settled());
  EXPECT_EQ(writer.counters().records, 2u);
  EXPECT_GE(writer.counters().syncs, 1u);

  const std::string bytes = read_bytes(writer.path());
  EXPECT_EQ(bytes, records.journal_bytes());
  std::size_t offset = journal::kFileHeaderBytes;
  Record read;
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.id, "e0");
  EXPECT_EQ(read.type, "speeding_11_20");
  EXPECT_EQ(read.points, -7);
  EXPECT_EQ(read.rules_version, 3u);
}

TEST(JournalWriterTest, BatchModeWithoutWaitingAcksDefersTheSync) {
  const ScratchDir dir("defer");
  JournalOptions options = options_for(dir);
  options.sync_interval_ms = 1000;
  JournalWriter writer(Env::posix(), options, 0);
  ASSERT_TRUE(writer.start_generation(1).is_ok());
  const std::uint64_t syncs = writer.counters().syncs;
  const Records records(1);
  writer.append(records[0]);
  ASSERT_TRUE(writer.flush(false, 0).is_ok());
  EXPECT_EQ(writer.counters().syncs, syncs);       // fire-and-forget: written, not yet synced
  EXPECT_FALSE(writer.settled());                  // an ack would still have to wait
  ASSERT_TRUE(writer.flush(false, 1000).is_ok());  // the interval has passed
  EXPECT_EQ(writer.counters().syncs, syncs + 1);
  EXPECT_TRUE(writer.settled());
}

TEST(JournalWriterTest, RotatesSegments) {
  const ScratchDir dir("rotate");
  JournalOptions options = options_for(dir);
  options.segment_bytes = 200;
  JournalWriter writer(Env::posix(), options, 0);
  ASSERT_TRUE(writer.start_generation(1).is_ok());
  const Records records(20);
  for (int i = 0; i < 20; ++i) {
    writer.append(records[static_cast<std::size_t>(i)]);
    ASSERT_TRUE(writer.flush(true, i).is_ok());
  }
  EXPECT_GT(writer.counters().segments, 3u);
  const auto files = scan_state_dir(Env::posix(), dir.str());
  ASSERT_TRUE(files.is_ok());
  EXPECT_EQ(files->journals.size(), writer.counters().segments);
  const auto ids = recovered_ids(Env::posix(), dir.str());
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, records.ids());
}

TEST(JournalWriterTest, AFileThatCannotBeCreatedKeepsEverythingForTheRetry) {
  const ScratchDir dir("gone");
  JournalOptions options = options_for(dir);
  options.dir = dir.file("gone");  // does not exist: the segment cannot be created
  JournalWriter writer(Env::posix(), options, 0);
  const Status started = writer.start_generation(1);
  EXPECT_EQ(started.sys_errno(), ENOENT);
  EXPECT_NE(started.to_string().find("journal-00000001-w0000-000001.tj"), std::string::npos)
      << started.to_string();
  const Records records(1);
  writer.append(records[0]);
  EXPECT_EQ(writer.flush(true, 0).sys_errno(), ENOENT);
  EXPECT_FALSE(writer.settled());
  EXPECT_GT(writer.pending_bytes(), 0u);
  EXPECT_GE(writer.counters().errors, 2u);
  ASSERT_TRUE(Env::posix()->create_dir(options.dir).is_ok());  // the operator frees the way
  EXPECT_TRUE(writer.flush(true, 1).is_ok());
  EXPECT_TRUE(writer.settled());
  const auto ids = recovered_ids(Env::posix(), options.dir);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, records.ids());
}

// Every offset in the file, in turn, is where the disk stops taking bytes:
// the write fails part-way, and once the fault is gone the next flush writes
// exactly the rest — the file holds each record once, whole.
TEST(JournalWriterTest, AWriteFailingAtByteNResumesExactlyWhereItStopped) {
  const Records records(5);
  const std::string expected = records.journal_bytes();
  for (std::size_t fail_at = journal::kFileHeaderBytes; fail_at < expected.size(); fail_at += 7) {
    SCOPED_TRACE(fail_at);
    const ScratchDir dir("resume");
    FaultInjectionEnv env(Env::posix());
    JournalWriter writer(&env, options_for(dir), 0);
    ASSERT_TRUE(writer.start_generation(1).is_ok());
    for (std::size_t i = 0; i < 5; ++i) writer.append(records[i]);
    env.fail_writes_past(fail_at, ".tj");
    const Status failed = writer.flush(true, 0);
    EXPECT_EQ(failed.sys_errno(), EIO) << failed.to_string();
    EXPECT_FALSE(writer.settled());
    EXPECT_EQ(writer.pending_bytes(), expected.size() - fail_at);
    EXPECT_EQ(read_bytes(writer.path()), expected.substr(0, fail_at));

    env.clear_write_faults();
    ASSERT_TRUE(writer.flush(true, 1).is_ok());
    EXPECT_TRUE(writer.settled());
    EXPECT_EQ(read_bytes(writer.path()), expected);
  }
}

// The disk fills up mid-write, and again when a new segment is due: records
// wait in memory (nothing is settled, every failure is counted), a segment
// whose header does not fit is removed rather than left half-made, and once
// there is space everything is written once, in order.
TEST(JournalWriterTest, AFullDiskHoldsTheRecordsUntilThereIsSpaceAgain) {
  const ScratchDir dir("full");
  FaultInjectionEnv env(Env::posix());
  JournalWriter writer(&env, options_for(dir), 0);
  ASSERT_TRUE(writer.start_generation(1).is_ok());
  const Records records(20);
  for (std::size_t i = 0; i < 10; ++i) writer.append(records[i]);
  env.limit_space(40);
  const Status full = writer.flush(true, 0);
  EXPECT_EQ(full.sys_errno(), ENOSPC) << full.to_string();
  EXPECT_EQ(writer.flush(true, 1).sys_errno(), ENOSPC);
  EXPECT_FALSE(writer.settled());
  EXPECT_GE(writer.counters().errors, 2u);
  env.lift_space_limit();
  ASSERT_TRUE(writer.flush(true, 2).is_ok());
  EXPECT_TRUE(writer.settled());

  env.limit_space(5);
  const Status moved = writer.start_generation(2);  // not even a header fits
  EXPECT_EQ(moved.sys_errno(), ENOSPC) << moved.to_string();
  EXPECT_FALSE(env.file_exists(dir.file(journal_file_name(2, 0, 1))));
  for (std::size_t i = 10; i < 20; ++i) writer.append(records[i]);
  EXPECT_EQ(writer.flush(true, 3).sys_errno(), ENOSPC);
  EXPECT_FALSE(env.file_exists(dir.file(journal_file_name(2, 0, 1))));
  env.lift_space_limit();
  ASSERT_TRUE(writer.flush(true, 4).is_ok());
  EXPECT_TRUE(writer.settled());
  EXPECT_EQ(writer.path(), dir.file(journal_file_name(2, 0, 1)));
  EXPECT_EQ(writer.counters().segments, 2u);

  RecoveryReport report;
  const auto ids = recovered_ids(&env, dir.str(), &report);
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, records.ids());
  EXPECT_TRUE(report.repaired.empty());
}

// Seeded runs of appends and flushes in each fsync mode, across segment
// rotations, then a power cut at a random point: what recovery reads is a
// prefix of what was appended (never a gap, never damage) and holds every
// record that a sync had covered.
TEST(JournalWriterTest, APowerCutLeavesAValidPrefixHoldingEverythingSynced) {
  const Records records(80);
  for (std::uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 random(seed);
    const ScratchDir dir("cut");
    FaultInjectionEnv env(Env::posix());
    JournalOptions options = options_for(dir);
    options.fsync = static_cast<FsyncMode>(seed % 3);
    options.sync_interval_ms = 5;
    options.segment_bytes = 400;
    std::size_t appended = 0;
    std::size_t synced = 0;
    {
      JournalWriter writer(&env, options, 0);
      ASSERT_TRUE(writer.start_generation(1).is_ok());
      const std::size_t crash_at = random() % records.ids().size();
      std::int64_t now_ms = 0;
      while (appended < crash_at) {
        writer.append(records[appended++]);
        if (random() % 3 != 0) continue;
        const std::uint64_t syncs = writer.counters().syncs;
        now_ms += static_cast<std::int64_t>(random() % 4);
        ASSERT_TRUE(writer.flush(random() % 2 == 0, now_ms).is_ok());
        if (writer.pending_bytes() == 0 && writer.counters().syncs > syncs) synced = appended;
      }
      ASSERT_TRUE(env.drop_unsynced_data().is_ok());
    }
    const auto ids = recovered_ids(&env, dir.str());
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    EXPECT_GE(ids->size(), synced);
    EXPECT_LE(ids->size(), appended);
    EXPECT_EQ(*ids, records.first(ids->size()));
  }
}

// The syncer thread: flush() only writes and hands the sync over, and the
// settled position catches up without the worker waiting.
TEST(JournalWriterTest, TheSyncerSettlesWhatTheFlushWrote) {
  const ScratchDir dir("background");
  JournalWriter writer(Env::posix(), background_options_for(dir), 1);
  ASSERT_TRUE(writer.start_generation(1).is_ok());
  const Records records(3);
  writer.append(records[0]);
  writer.append(records[1]);
  const std::uint64_t batch_end = writer.appended_position();
  writer.append(records[2]);
  EXPECT_LT(writer.settled_position(), batch_end);
  ASSERT_TRUE(flush_until(writer, [&] { return writer.settled(); }));
  EXPECT_EQ(writer.settled_position(), writer.appended_position());
  EXPECT_GE(writer.settled_position(), batch_end);
  EXPECT_GE(writer.counters().syncs, 1u);
  EXPECT_EQ(read_bytes(writer.path()), records.journal_bytes());
}

TEST(JournalWriterTest, TheSyncerRotatesSegmentsAndLosesNothing) {
  const ScratchDir dir("background-rotate");
  JournalOptions options = background_options_for(dir);
  options.segment_bytes = 200;
  const Records records(40);
  {
    JournalWriter writer(Env::posix(), options, 0);
    ASSERT_TRUE(writer.start_generation(1).is_ok());
    for (std::size_t i = 0; i < 40; ++i) {
      writer.append(records[i]);
      ASSERT_TRUE(writer.flush(true, static_cast<std::int64_t>(i)).is_ok());
    }
    ASSERT_TRUE(writer.finish().is_ok());
    EXPECT_TRUE(writer.settled());
    EXPECT_GT(writer.counters().segments, 3u);
    // A new generation after a rotation waits for the handed-over segment.
    ASSERT_TRUE(writer.start_generation(2).is_ok());
  }
  const auto ids = recovered_ids(Env::posix(), dir.str());
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, records.ids());
}

// A disk that refuses syncs: the failure reaches the worker's flush and the
// counters, nothing is settled meanwhile, and once the disk syncs again the
// syncer's retry settles everything.
TEST(JournalWriterTest, AFailingSyncIsReportedAndRetriedUntilItSucceeds) {
  const ScratchDir dir("background-fail");
  FaultInjectionEnv env(Env::posix());
  JournalWriter writer(&env, background_options_for(dir), 0);
  ASSERT_TRUE(writer.start_generation(1).is_ok());
  ASSERT_TRUE(flush_until(writer, [&] { return writer.settled(); }));  // the header's sync
  env.fail_syncs(EIO);
  const Records records(2);
  writer.append(records[0]);
  writer.append(records[1]);
  Status last;
  ASSERT_TRUE(flush_until(
      writer, [&] { return !last.is_ok(); }, &last));
  EXPECT_EQ(last.sys_errno(), EIO) << last.to_string();
  EXPECT_NE(last.to_string().find("fdatasync"), std::string::npos) << last.to_string();
  EXPECT_FALSE(writer.settled());
  EXPECT_GE(writer.counters().errors, 1u);
  EXPECT_FALSE(writer.finish().is_ok());  // a stop would not wait forever
  env.clear_write_faults();
  ASSERT_TRUE(flush_until(writer, [&] { return writer.settled(); }));
  EXPECT_TRUE(writer.finish().is_ok());
}

// As the power-cut test above, with the syncer: whatever the settled
// position covered when the power went survives, in every mode.
TEST(JournalWriterTest, APowerCutWithTheSyncerKeepsEverythingSettled) {
  const Records records(80);
  for (std::uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 random(seed);
    const ScratchDir dir("background-cut");
    FaultInjectionEnv env(Env::posix());
    JournalOptions options = background_options_for(dir);
    options.fsync = seed % 2 == 0 ? FsyncMode::kBatch : FsyncMode::kInterval;
    options.sync_interval_ms = 2;
    options.segment_bytes = 400;
    std::vector<std::uint64_t> end_of;  // record i ends at end_of[i]
    std::size_t settled_records = 0;
    {
      JournalWriter writer(&env, options, 0);
      ASSERT_TRUE(writer.start_generation(1).is_ok());
      const std::size_t crash_at = random() % records.ids().size();
      std::int64_t now_ms = 0;
      while (end_of.size() < crash_at) {
        writer.append(records[end_of.size()]);
        end_of.push_back(writer.appended_position());
        if (random() % 3 != 0) continue;
        now_ms += static_cast<std::int64_t>(random() % 4);
        ASSERT_TRUE(writer.flush(random() % 2 == 0, now_ms).is_ok());
        if (random() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
      // In kInterval the settled position is the written one, which a power
      // cut may lose: only kBatch promises survival.
      const std::uint64_t settled = writer.settled_position();
      ASSERT_TRUE(env.drop_unsynced_data().is_ok());
      if (options.fsync == FsyncMode::kBatch) {
        while (settled_records < end_of.size() && end_of[settled_records] <= settled) {
          ++settled_records;
        }
      }
    }
    const auto ids = recovered_ids(&env, dir.str());
    ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
    EXPECT_GE(ids->size(), settled_records);
    EXPECT_LE(ids->size(), end_of.size());
    EXPECT_EQ(*ids, records.first(ids->size()));
  }
}

}  // namespace
}  // namespace tally::storage
