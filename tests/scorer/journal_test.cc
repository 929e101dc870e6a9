// The journal's record format, the writer, the data directory's bookkeeping,
// and reading state back: torn tails cut, damage refused with file and offset.
#include "scorer/journal.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "scorer/journal_format.h"
#include "scorer/rules.h"
#include "scorer/snapshot.h"
#include "scorer/state_dir.h"

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;
using journal::ReadStatus;
using journal::Record;
using journal::RecordKind;

fs::path temp_dir(const std::string& name) {
  std::random_device random;
  const fs::path dir =
      fs::temp_directory_path() /
      ("tally-journal-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void spit(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

Record sample_event(std::string_view id, std::string_view subject) {
  Record record;
  record.kind = RecordKind::kEvent;
  record.time_ms = 1'700'000'000'000;
  record.points = -7;
  record.expires_after_ms = 86'400'000;
  record.rules_version = 3;
  record.id = id;
  record.subject = subject;
  record.type = "speeding_11_20";
  record.source = "camera-12";
  return record;
}

std::shared_ptr<const RuleSet> rules() {
  static const auto loaded = std::get<std::shared_ptr<const RuleSet>>(
      parse_rules("[rules.fine]\npoints = 4\nexpires_after = \"10d\"\n", "journal_test.toml", 5));
  return loaded;
}

stream::Event event_of(std::string_view id, std::string_view subject) {
  stream::Event event;
  event.id.assign(id);
  event.subject.assign(subject);
  event.source.assign("cam");
  event.type = rules()->resolve("fine");
  event.time_ms = 1'000;
  return event;
}

TEST(JournalFormatTest, RecordsRoundTripWithEveryField) {
  std::string bytes;
  journal::append_record(bytes, sample_event("e1", "plate:NY:A"));
  Record revoke = sample_event("r1", "plate:NY:A");
  revoke.kind = RecordKind::kRevoke;
  revoke.type = "revoke";
  revoke.revokes = "e1";
  revoke.reason = "appeal upheld";
  journal::append_record(bytes, revoke);

  std::size_t offset = 0;
  Record read;
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.kind, RecordKind::kEvent);
  EXPECT_EQ(read.time_ms, 1'700'000'000'000);
  EXPECT_EQ(read.points, -7);
  EXPECT_EQ(read.expires_after_ms, 86'400'000);
  EXPECT_EQ(read.rules_version, 3u);
  EXPECT_EQ(read.id, "e1");
  EXPECT_EQ(read.subject, "plate:NY:A");
  EXPECT_EQ(read.type, "speeding_11_20");
  EXPECT_EQ(read.source, "camera-12");
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.kind, RecordKind::kRevoke);
  EXPECT_EQ(read.revokes, "e1");
  EXPECT_EQ(read.reason, "appeal upheld");
  EXPECT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kEndOfData);
}

TEST(JournalFormatTest, EveryKindOfDamageIsNamed) {
  std::string good;
  journal::append_record(good, sample_event("e1", "s"));
  Record read;

  std::string cut = good.substr(0, good.size() - 1);
  std::size_t offset = 0;
  EXPECT_EQ(journal::read_record(cut, offset, read), ReadStatus::kTruncated);
  EXPECT_EQ(offset, 0u);

  std::string flipped = good;
  flipped[20] ^= 0x01;
  offset = 0;
  EXPECT_EQ(journal::read_record(flipped, offset, read), ReadStatus::kBadChecksum);

  std::string zeros(64, '\0');
  offset = 0;
  EXPECT_EQ(journal::read_record(zeros, offset, read), ReadStatus::kBadLength);

  offset = 0;
  EXPECT_EQ(journal::read_record(good.substr(0, 3), offset, read), ReadStatus::kTruncated);
}

TEST(JournalFormatTest, CrcIsCastagnoli) {
  // The check value of CRC-32C over "123456789".
  EXPECT_EQ(journal::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(journal::crc32c("", 0), 0u);
}

TEST(JournalFormatTest, HeadersAreChecked) {
  std::string error;
  EXPECT_TRUE(journal::check_file_header(journal::file_header(journal::kJournalMagic),
                                         journal::kJournalMagic, error));
  EXPECT_FALSE(journal::check_file_header(journal::file_header(journal::kSnapshotMagic),
                                          journal::kJournalMagic, error));
  EXPECT_NE(error.find("bad magic"), std::string::npos);
  std::string future = journal::file_header(journal::kJournalMagic);
  future[8] = 9;
  EXPECT_FALSE(journal::check_file_header(future, journal::kJournalMagic, error));
  EXPECT_NE(error.find("format version 9"), std::string::npos);
}

TEST(JournalWriterTest, WritesSyncsAndSettles) {
  const fs::path dir = temp_dir("writer");
  JournalOptions options;
  options.dir = dir.string();
  JournalWriter writer(options, 2);
  ASSERT_EQ(writer.start_generation(7), 0);
  EXPECT_EQ(fs::path(writer.path()).filename(), "journal-00000007-w0002-000001.tj");
  writer.append(event_of("a", "s1"));
  writer.append(event_of("b", "s2"));
  EXPECT_FALSE(writer.settled());
  ASSERT_EQ(writer.flush(/*acks_waiting=*/true, 0), 0);
  EXPECT_TRUE(writer.settled());
  EXPECT_EQ(writer.counters().records, 2u);
  EXPECT_GE(writer.counters().syncs, 1u);

  const std::string bytes = slurp(writer.path());
  std::string error;
  ASSERT_TRUE(journal::check_file_header(bytes, journal::kJournalMagic, error)) << error;
  std::size_t offset = journal::kFileHeaderBytes;
  Record read;
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.id, "a");
  EXPECT_EQ(read.type, "fine");
  EXPECT_EQ(read.points, 4);
  EXPECT_EQ(read.rules_version, 5u);
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.id, "b");
  EXPECT_EQ(offset, bytes.size());
  fs::remove_all(dir);
}

TEST(JournalWriterTest, BatchModeWithoutWaitingAcksDefersTheSync) {
  const fs::path dir = temp_dir("defer");
  JournalOptions options;
  options.dir = dir.string();
  options.sync_interval_ms = 1000;
  JournalWriter writer(options, 0);
  ASSERT_EQ(writer.start_generation(1), 0);
  const std::uint64_t syncs = writer.counters().syncs;
  writer.append(event_of("a", "s"));
  ASSERT_EQ(writer.flush(false, 0), 0);
  EXPECT_EQ(writer.counters().syncs, syncs);  // fire-and-forget: written, not yet synced
  EXPECT_FALSE(writer.settled());             // an ack would still have to wait
  ASSERT_EQ(writer.flush(false, 1000), 0);    // the interval has passed
  EXPECT_EQ(writer.counters().syncs, syncs + 1);
  EXPECT_TRUE(writer.settled());
  fs::remove_all(dir);
}

TEST(JournalWriterTest, RotatesSegments) {
  const fs::path dir = temp_dir("rotate");
  JournalOptions options;
  options.dir = dir.string();
  options.segment_bytes = 200;
  JournalWriter writer(options, 0);
  ASSERT_EQ(writer.start_generation(1), 0);
  for (int i = 0; i < 20; ++i) {
    writer.append(event_of(fmt::format("e{}", i), "s"));
    ASSERT_EQ(writer.flush(true, i), 0);
  }
  EXPECT_GT(writer.counters().segments, 3u);
  const StateFiles files = scan_state_dir(dir.string());
  EXPECT_EQ(files.journals.size(), writer.counters().segments);
  std::uint64_t records = 0;
  read_state(files, [&](const Record&) { ++records; });
  EXPECT_EQ(records, 20u);
  fs::remove_all(dir);
}

TEST(JournalWriterTest, AFailedWriteKeepsEverythingForTheRetry) {
  const fs::path dir = temp_dir("fail");
  JournalOptions options;
  options.dir = (dir / "gone").string();  // does not exist: the segment cannot be created
  JournalWriter writer(options, 0);
  EXPECT_EQ(writer.start_generation(1), ENOENT);
  writer.append(event_of("a", "s"));
  EXPECT_EQ(writer.flush(true, 0), ENOENT);
  EXPECT_FALSE(writer.settled());
  EXPECT_GT(writer.pending_bytes(), 0u);
  EXPECT_GE(writer.counters().errors, 2u);
  fs::create_directories(dir / "gone");  // the operator frees the way
  EXPECT_EQ(writer.flush(true, 1), 0);
  EXPECT_TRUE(writer.settled());
  std::uint64_t records = 0;
  read_state(scan_state_dir((dir / "gone").string()), [&](const Record&) { ++records; });
  EXPECT_EQ(records, 1u);
  fs::remove_all(dir);
}

TEST(StateDirTest, PicksTheNewestCompleteSnapshotAndTheJournalsAfterIt) {
  const fs::path dir = temp_dir("scan");
  for (const char* name :
       {"journal-00000001-w0000-000001.tj", "snapshot-00000002-w0000.ts",
        "snapshot-00000002-w0001.ts", "snapshot-00000002.done", "journal-00000002-w0000-000001.tj",
        "journal-00000002-w0001-000003.tj", "snapshot-00000004-w0000.ts",
        "journal-00000004-w0001-000001.tj", "snapshot-00000005-w0000.ts.tmp", "rejected.ndjson"}) {
    spit(dir / name, "x");
  }
  spit(dir / "snapshot-00000002.done", "workers = 2\n");
  const StateFiles files = scan_state_dir(dir.string());
  ASSERT_TRUE(files.snapshot_generation.has_value());
  EXPECT_EQ(*files.snapshot_generation, 2u);
  EXPECT_EQ(files.snapshots.size(), 2u);
  ASSERT_EQ(files.journals.size(), 3u);
  EXPECT_EQ(fs::path(files.journals[2]).filename(), "journal-00000004-w0001-000001.tj");
  // Generation 1's journal, the incomplete snapshot 4 and the .tmp are obsolete.
  EXPECT_EQ(files.obsolete.size(), 3u);
  EXPECT_EQ(files.next_generation, 5u);
  fs::remove_all(dir);
}

TEST(StateDirTest, AMissingSnapshotPartStopsRecoveryWithItsName) {
  const fs::path dir = temp_dir("missing");
  spit(dir / "snapshot-00000003-w0000.ts", "x");
  spit(dir / "snapshot-00000003.done", "workers = 2\n");
  try {
    scan_state_dir(dir.string());
    FAIL() << "expected a StateError";
  } catch (const StateError& error) {
    EXPECT_NE(std::string(error.what()).find("snapshot-00000003-w0001.ts"), std::string::npos)
        << error.what();
  }
  fs::remove_all(dir);
}

TEST(StateDirTest, TheLockKeepsASecondDaemonOut) {
  const fs::path dir = temp_dir("lock");
  {
    DirLock first(dir.string());
    try {
      DirLock second(dir.string());
      FAIL() << "expected a StateError";
    } catch (const StateError& error) {
      EXPECT_NE(std::string(error.what()).find(std::to_string(::getpid())), std::string::npos)
          << error.what();
    }
  }
  DirLock again(dir.string());  // released with its owner
  fs::remove_all(dir);
}

// A journal with three records, as a worker leaves it.
fs::path write_journal(const fs::path& dir, int records) {
  JournalOptions options;
  options.dir = dir.string();
  JournalWriter writer(options, 0);
  EXPECT_EQ(writer.start_generation(1), 0);
  for (int i = 0; i < records; ++i) writer.append(event_of(fmt::format("e{}", i), "s"));
  EXPECT_EQ(writer.flush(true, 0), 0);
  return writer.path();
}

TEST(RecoveryReadTest, ATornTailIsCutAndReported) {
  const fs::path dir = temp_dir("torn");
  const fs::path path = write_journal(dir, 3);
  const std::string whole = slurp(path);
  spit(path, whole.substr(0, whole.size() - 5));  // the crash came mid-write
  std::uint64_t records = 0;
  const RecoveryReport report =
      read_state(scan_state_dir(dir.string()), [&](const Record&) { ++records; });
  EXPECT_EQ(records, 2u);
  ASSERT_EQ(report.repaired.size(), 1u);
  EXPECT_NE(report.repaired[0].find("record cut short"), std::string::npos) << report.repaired[0];
  // Cut for good: a second recovery reads the same and repairs nothing.
  records = 0;
  const RecoveryReport again =
      read_state(scan_state_dir(dir.string()), [&](const Record&) { ++records; });
  EXPECT_EQ(records, 2u);
  EXPECT_TRUE(again.repaired.empty());
  fs::remove_all(dir);
}

TEST(RecoveryReadTest, GarbageAfterTheLastRecordIsATornTailToo) {
  const fs::path dir = temp_dir("zeros");
  const fs::path path = write_journal(dir, 3);
  spit(path, slurp(path) + std::string(100, '\0'));  // a file extended, never written
  std::uint64_t records = 0;
  const RecoveryReport report =
      read_state(scan_state_dir(dir.string()), [&](const Record&) { ++records; });
  EXPECT_EQ(records, 3u);
  EXPECT_EQ(report.repaired.size(), 1u);
  fs::remove_all(dir);
}

TEST(RecoveryReadTest, DamageInTheMiddleOfAJournalStopsWithFileAndOffset) {
  const fs::path dir = temp_dir("middle");
  const fs::path path = write_journal(dir, 3);
  std::string bytes = slurp(path);
  const std::size_t second_record = journal::kFileHeaderBytes + (bytes.size() - 16) / 3;
  bytes[second_record + 12] ^= 0x40;
  spit(path, bytes);
  try {
    read_state(scan_state_dir(dir.string()), [](const Record&) {});
    FAIL() << "expected a StateError";
  } catch (const StateError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find("offset " + std::to_string(second_record)), std::string::npos) << what;
    EXPECT_NE(what.find("checksum"), std::string::npos) << what;
  }
  EXPECT_EQ(slurp(path), bytes);  // nothing was cut
  fs::remove_all(dir);
}

TEST(RecoveryReadTest, AFlippedByteInASnapshotStopsWithFileAndOffset) {
  const fs::path dir = temp_dir("snapshot");
  SubjectTable table;
  for (int i = 0; i < 10; ++i) table.apply(event_of(fmt::format("e{}", i), fmt::format("s{}", i)));
  const SnapshotPartResult part = write_snapshot_part(table, dir.string(), 4, 0);
  ASSERT_EQ(part.error, 0);
  EXPECT_EQ(part.records, 10u);
  complete_snapshot(dir.string(), 4, 1);
  std::uint64_t records = 0;
  read_state(scan_state_dir(dir.string()), [&](const Record&) { ++records; });
  EXPECT_EQ(records, 10u);

  std::string bytes = slurp(part.path);
  bytes[bytes.size() / 2] ^= 0x01;
  spit(part.path, bytes);
  try {
    read_state(scan_state_dir(dir.string()), [](const Record&) {});
    FAIL() << "expected a StateError";
  } catch (const StateError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find(part.path), std::string::npos) << what;
    EXPECT_NE(what.find("offset "), std::string::npos) << what;
  }
  // And a part cut short (no end record) is refused too, even at a record boundary.
  std::string cut = slurp(part.path);
  spit(part.path, cut.substr(0, journal::kFileHeaderBytes));
  EXPECT_THROW(read_state(scan_state_dir(dir.string()), [](const Record&) {}), StateError);
  fs::remove_all(dir);
}

TEST(RecoveryReadTest, ASnapshotHoldsContributionsAndEveryRevoke) {
  const fs::path dir = temp_dir("revokes");
  SubjectTable table;
  table.apply(event_of("e1", "s"));
  const auto* revoke_terms = rules()->resolve("revoke");
  ASSERT_NE(revoke_terms, nullptr);
  for (const char* id : {"r1", "r2"}) {  // two revokes of one event, and one pending
    stream::Event revoke = event_of(id, "s");
    revoke.type = revoke_terms;
    revoke.revokes.assign("e1");
    table.apply(revoke);
  }
  stream::Event pending = event_of("r3", "s");
  pending.type = revoke_terms;
  pending.revokes.assign("not-yet");
  table.apply(pending);
  const SnapshotPartResult part = write_snapshot_part(table, dir.string(), 1, 0);
  ASSERT_EQ(part.error, 0);
  complete_snapshot(dir.string(), 1, 1);
  std::vector<std::string> seen;
  read_state(scan_state_dir(dir.string()), [&](const Record& record) {
    seen.push_back(std::string(record.id) + ">" + std::string(record.revokes));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"e1>", "r1>e1", "r2>e1", "r3>not-yet"}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tally::scorer
