// The record format: what is written reads back, and every kind of damage
// is named.
#include "storage/journal_format.h"

#include <gtest/gtest.h>

#include "tests/storage/storage_fixtures.h"

namespace tally::storage {
namespace {

using journal::ReadStatus;
using journal::Record;
using journal::RecordKind;
using testing::sample_record;

TEST(JournalFormatTest, RecordsRoundTripWithEveryField) {
  std::string bytes;
  journal::append_record(bytes, sample_record("e1", "plate:NY:A"));
  Record revoke = sample_record("r1", "plate:NY:A");
  revoke.kind = RecordKind::kRevoke;
  revoke.type = "revoke";
  revoke.revokes = "e1";
  revoke.reason = "appeal upheld";
  journal::append_record(bytes, revoke);
  Record authenticated = revoke;  // through tallyd --auth: the client's name too
  authenticated.id = "r2";
  authenticated.actor = "dmv-appeals";
  journal::append_record(bytes, authenticated);

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
  EXPECT_EQ(read.actor, "");
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.id, "r2");
  EXPECT_EQ(read.reason, "appeal upheld");
  EXPECT_EQ(read.actor, "dmv-appeals");
  EXPECT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kEndOfData);
}

TEST(JournalFormatTest, EveryKindOfDamageIsNamed) {
  std::string good;
  journal::append_record(good, sample_record("e1", "s"));
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

TEST(JournalFormatTest, AnAlertRecordRoundTripsWithItsOrigin) {
  std::string bytes;
  Record alert;
  alert.kind = RecordKind::kAlert;
  alert.time_ms = 1'700'000'000'123;
  alert.score = -42;
  alert.by_expiry = true;
  alert.origin = {7, 3, 12};
  alert.id = "e9";
  alert.subject = "plate:NY:A";
  alert.tier_from = "";  // below every tier
  alert.tier_to = "warning";
  journal::append_alert_record(bytes, alert);
  journal::append_record(bytes, sample_record("e10", "s"));

  std::size_t offset = 0;
  Record read;
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.kind, RecordKind::kAlert);
  EXPECT_EQ(read.time_ms, alert.time_ms);
  EXPECT_EQ(read.score, -42);
  EXPECT_TRUE(read.by_expiry);
  EXPECT_EQ(read.origin, (journal::AlertOrigin{7, 3, 12}));
  EXPECT_EQ(read.id, "e9");
  EXPECT_EQ(read.subject, "plate:NY:A");
  EXPECT_EQ(read.tier_from, "");
  EXPECT_EQ(read.tier_to, "warning");
  ASSERT_EQ(journal::read_record(bytes, offset, read), ReadStatus::kOk);
  EXPECT_EQ(read.kind, RecordKind::kEvent);
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
  // Files of version 1 (before alert records) are still read.
  std::string version1 = journal::file_header(journal::kJournalMagic);
  version1[8] = 1;
  EXPECT_TRUE(journal::check_file_header(version1, journal::kJournalMagic, error)) << error;
}

}  // namespace
}  // namespace tally::storage
