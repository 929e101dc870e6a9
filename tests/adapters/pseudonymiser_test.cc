// Keyed pseudonyms: stable for a key, different across keys, kind kept.
#include "adapters/pseudonymiser.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/files.h"

namespace tally::adapters {
namespace {

Pseudonymiser make(char digit) {
  auto result = Pseudonymiser::from_hex(std::string(64, digit));
  EXPECT_TRUE(result) << result.status().to_string();
  return *result;
}

TEST(PseudonymiserTest, SameKeySamePseudonymOtherKeyOther) {
  const Pseudonymiser a = make('1'), again = make('1'), b = make('2');
  const std::string pseudonym = a.pseudonym("plate:NY:ABC1234");
  EXPECT_EQ(pseudonym, again.pseudonym("plate:NY:ABC1234"));
  EXPECT_NE(pseudonym, b.pseudonym("plate:NY:ABC1234"));
  EXPECT_NE(pseudonym, a.pseudonym("plate:NJ:ABC1234"));
  EXPECT_EQ(pseudonym.rfind("plate:k", 0), 0u) << pseudonym;
  EXPECT_EQ(pseudonym.size(), std::string("plate:k").size() + 32);
  EXPECT_EQ(pseudonym.find("ABC1234"), std::string::npos);
}

TEST(PseudonymiserTest, KnownAnswerForTheDocumentedConstruction) {
  // BLAKE2b with a 16-byte digest, keyed with 32 zero bytes, of "person:42";
  // computed independently (Python: hashlib.blake2b(b"person:42",
  // key=bytes(32), digest_size=16).hexdigest()), so the construction the
  // docs promise cannot drift.
  EXPECT_EQ(make('0').pseudonym("person:42"), "person:k35d5850756d33f09a825e6c519df3bd3");
}

TEST(PseudonymiserTest, KindIsKeptOnlyWhenItLooksLikeOne) {
  const Pseudonymiser a = make('3');
  EXPECT_EQ(a.pseudonym("no-kind-here").rfind("k", 0), 0u);
  EXPECT_EQ(a.pseudonym("a very long kind with spaces:x").rfind("k", 0), 0u);
  EXPECT_EQ(a.pseudonym("org:ACME").rfind("org:k", 0), 0u);
}

TEST(PseudonymiserTest, KeyFilesAreCheckedWithAUsefulMessage) {
  const tally::testing::TempDir scratch("pseudonymiser");
  const auto& dir = scratch.path();
  std::ofstream(dir / "good.key") << std::string(64, 'f') << "\n";
  std::ofstream(dir / "short.key") << "abcd\n";
  std::ofstream(dir / "bad.key") << std::string(63, 'f') << "g\n";
  const auto message = [](const Result<Pseudonymiser>& read) {
    return std::string(read.status().message());
  };
  const auto good = Pseudonymiser::from_key_file((dir / "good.key").string());
  EXPECT_TRUE(good) << message(good);
  const auto short_key = Pseudonymiser::from_key_file((dir / "short.key").string());
  EXPECT_FALSE(short_key);
  EXPECT_NE(message(short_key).find("openssl rand -hex 32"), std::string::npos)
      << message(short_key);
  EXPECT_NE(message(short_key).find("short.key"), std::string::npos) << message(short_key);
  EXPECT_FALSE(Pseudonymiser::from_key_file((dir / "bad.key").string()));
  const auto absent = Pseudonymiser::from_key_file((dir / "absent.key").string());
  EXPECT_FALSE(absent);
  EXPECT_NE(message(absent).find("cannot read key file"), std::string::npos) << message(absent);
  // Read with a limit: /dev/zero is refused at once, not read forever.
  const auto endless = Pseudonymiser::from_key_file("/dev/zero");
  EXPECT_FALSE(endless);
  EXPECT_NE(message(endless).find("over 4096 bytes"), std::string::npos) << message(endless);
}

}  // namespace
}  // namespace tally::adapters
