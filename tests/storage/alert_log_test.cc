// The alert log: numbering that goes on across reopenings, reads from any
// seq, retention by age and size, torn tails and damage.
#include "storage/alert_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

using testing::ScratchDir;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000'000;

std::string body_of(std::uint64_t seq) { return fmt::format(R"({{"seq":{},"x":"alert"}})", seq); }

std::unique_ptr<AlertLog> open_log(const AlertLogOptions& options) {
  auto log = AlertLog::open(Env::posix(), options);
  EXPECT_TRUE(log.is_ok()) << log.status().to_string();
  return log.is_ok() ? std::move(log).value() : nullptr;
}

// Appends alerts up to seq `last` (origin worker 0, generation 1), committing
// every ten as the daemon commits once per turn.
void append_through(AlertLog& log, std::uint64_t last, std::int64_t now_ms = kNow) {
  while (log.next_seq() <= last) {
    const std::uint64_t seq = log.next_seq();
    log.append(body_of(seq), {1, 0, seq}, now_ms);
    if (seq % 10 == 0) {
      ASSERT_TRUE(log.commit(now_ms).is_ok());
    }
  }
  ASSERT_TRUE(log.commit(now_ms).is_ok());
}

std::vector<std::string> segment_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class AlertLogTest : public ::testing::TestWithParam<bool> {
 protected:
  AlertLogOptions options() const {
    AlertLogOptions options;
    if (GetParam()) options.dir = dir_.file("alerts");
    options.segment_bytes = 4096;
    return options;
  }
  ScratchDir dir_{"alert-log"};
};

TEST_P(AlertLogTest, ReadsFromAnySeqInOrderAndOnlyWhatWasCommitted) {
  auto log = open_log(options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->next_seq(), 1u);
  append_through(*log, 500);  // many segments, several marks each
  EXPECT_GT(log->segments(), 5u);
  log->append(body_of(501), {1, 0, 501}, kNow);  // not committed: not readable

  for (const std::uint64_t since : {1ull, 2ull, 64ull, 65ull, 130ull, 333ull, 500ull}) {
    const auto range = log->read(since, 100);
    ASSERT_TRUE(range.is_ok()) << range.status().to_string();
    EXPECT_EQ(range->first, since);
    EXPECT_EQ(range->oldest, 1u);
    EXPECT_EQ(range->last, 500u);
    const std::uint64_t expected = std::min<std::uint64_t>(100, 501 - since);
    ASSERT_EQ(range->bodies.size(), expected) << "since " << since;
    for (std::uint64_t i = 0; i < expected; ++i) EXPECT_EQ(range->bodies[i], body_of(since + i));
    EXPECT_EQ(range->next, since + expected);
  }
  const auto past_end = log->read(9'999, 10);
  ASSERT_TRUE(past_end.is_ok());
  EXPECT_TRUE(past_end->bodies.empty());
  EXPECT_EQ(past_end->last, 500u);
  const auto capped = log->read(1, 1'000'000);
  ASSERT_TRUE(capped.is_ok());
  EXPECT_EQ(capped->bodies.size(), 500u);
  ASSERT_TRUE(log->commit(kNow).is_ok());
  EXPECT_EQ(log->read(501, 10)->bodies.size(), 1u);
}

TEST_P(AlertLogTest, RetentionDropsWholeOldSegmentsButNeverTheNewest) {
  AlertLogOptions by_age = options();
  by_age.retain_ms = 60'000;
  auto log = open_log(by_age);
  ASSERT_NE(log, nullptr);
  append_through(*log, 300, kNow);
  const std::size_t segments = log->segments();
  ASSERT_GT(segments, 2u);
  log->enforce_retention(kNow + 59'000);
  EXPECT_EQ(log->segments(), segments) << "nothing is old enough yet";
  log->enforce_retention(kNow + 61'000);
  EXPECT_EQ(log->segments(), 1u) << "every segment but the newest is past retention";
  const std::uint64_t oldest = log->oldest_seq();
  EXPECT_GT(oldest, 1u);
  const auto range = log->read(1, 10);
  ASSERT_TRUE(range.is_ok());
  EXPECT_EQ(range->oldest, oldest);
  EXPECT_EQ(range->first, oldest);
  EXPECT_EQ(range->bodies.front(), body_of(oldest));
  EXPECT_EQ(log->next_seq(), 301u);
  EXPECT_EQ(log->counters().segments_dropped, segments - 1);

  AlertLogOptions by_size = options();
  by_size.max_bytes = 10'000;
  ScratchDir other("alert-log-size");
  if (GetParam()) by_size.dir = other.file("alerts");
  auto capped = open_log(by_size);
  ASSERT_NE(capped, nullptr);
  append_through(*capped, 1000, kNow);
  EXPECT_LE(capped->bytes(), by_size.max_bytes + by_size.segment_bytes);
  EXPECT_GT(capped->oldest_seq(), 1u);
  EXPECT_EQ(capped->read(capped->oldest_seq(), 1)->bodies.front(), body_of(capped->oldest_seq()));
}

INSTANTIATE_TEST_SUITE_P(FileAndMemory, AlertLogTest, ::testing::Bool(),
                         [](const auto& param_info) {
                           return param_info.param ? "Files" : "Memory";
                         });

TEST(AlertLogFilesTest, NumberingGoesOnAfterReopeningAndOriginsAreKnown) {
  ScratchDir dir("alert-log-reopen");
  AlertLogOptions options;
  options.dir = dir.file("alerts");
  options.segment_bytes = 4096;
  {
    auto log = open_log(options);
    ASSERT_NE(log, nullptr);
    append_through(*log, 200);
  }
  auto log = open_log(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->next_seq(), 201u);
  EXPECT_EQ(log->oldest_seq(), 1u);
  EXPECT_TRUE(log->contains({1, 0, 200}));
  EXPECT_TRUE(log->contains({1, 0, 7}));
  EXPECT_FALSE(log->contains({1, 0, 201}));
  EXPECT_FALSE(log->contains({2, 0, 1}));
  EXPECT_FALSE(log->contains({1, 1, 1}));
  append_through(*log, 250);
  const auto range = log->read(190, 100);
  ASSERT_TRUE(range.is_ok());
  ASSERT_EQ(range->bodies.size(), 61u);
  for (std::uint64_t i = 0; i < 61; ++i) EXPECT_EQ(range->bodies[i], body_of(190 + i));
}

// The bytes alert_log.h draws, built here field by field (little-endian),
// so a faster writer cannot change the format unnoticed.
TEST(AlertLogFilesTest, ASegmentHoldsExactlyTheBytesItsFormatDraws) {
  ScratchDir dir("alert-log-bytes");
  AlertLogOptions options;
  options.dir = dir.file("alerts");
  auto log = open_log(options);
  ASSERT_NE(log, nullptr);
  const std::string body = R"({"seq":1,"x":"alert"})";
  log->append(body, {0x0102030405060708, 0x0A0B0C0D, 0x1112131415161718}, -2);
  ASSERT_TRUE(log->commit(kNow).is_ok());

  const auto little = [](std::uint64_t value, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
    return out;
  };
  const std::string payload = little(1, 8) + little(static_cast<std::uint64_t>(-2), 8) +
                              little(0x0102030405060708, 8) + little(0x0A0B0C0D, 4) +
                              little(0x1112131415161718, 8) + body;
  const std::string expected = std::string("TALLYALG") + little(1, 4) + little(0, 4) +
                               little(payload.size(), 4) +
                               little(journal::crc32c(payload.data(), payload.size()), 4) + payload;
  const auto files = segment_files(dir.file("alerts"));
  ASSERT_EQ(files, std::vector<std::string>{"alerts-00000000000000000001.tal"});
  EXPECT_EQ(testing::read_bytes(fs::path(dir.file("alerts")) / files.front()), expected);
}

TEST(AlertLogFilesTest, ATornTailOfTheNewestSegmentIsCutAndItsSeqsGivenAgain) {
  ScratchDir dir("alert-log-torn");
  AlertLogOptions options;
  options.dir = dir.file("alerts");
  {
    auto log = open_log(options);
    ASSERT_NE(log, nullptr);
    append_through(*log, 10);
  }
  const auto files = segment_files(dir.file("alerts"));
  ASSERT_EQ(files.size(), 1u);
  const fs::path segment = fs::path(dir.file("alerts")) / files.front();
  std::string bytes = testing::read_bytes(segment);
  bytes.resize(bytes.size() - 5);  // the last record cut short, as a crash mid-write leaves it
  testing::write_bytes(segment, bytes);

  auto log = open_log(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->next_seq(), 10u) << "seq 10 was never whole: it is given again";
  EXPECT_FALSE(log->contains({1, 0, 10}));
  append_through(*log, 10);
  EXPECT_EQ(log->read(1, 100)->bodies.size(), 10u);
}

TEST(AlertLogFilesTest, DamageInAnOlderSegmentIsRefusedNamingTheFile) {
  ScratchDir dir("alert-log-damage");
  AlertLogOptions options;
  options.dir = dir.file("alerts");
  options.segment_bytes = 1024;
  {
    auto log = open_log(options);
    ASSERT_NE(log, nullptr);
    append_through(*log, 100);
  }
  const auto files = segment_files(dir.file("alerts"));
  ASSERT_GT(files.size(), 2u);
  const fs::path first = fs::path(dir.file("alerts")) / files.front();
  std::string bytes = testing::read_bytes(first);
  bytes[40] ^= 0x55;
  testing::write_bytes(first, bytes);
  const auto log = AlertLog::open(Env::posix(), options);
  ASSERT_FALSE(log.is_ok());
  EXPECT_EQ(log.status().code(), Status::Code::kCorruption);
  EXPECT_NE(log.status().to_string().find(files.front()), std::string::npos)
      << log.status().to_string();
}

}  // namespace
}  // namespace tally::storage
