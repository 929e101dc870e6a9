// The rules message format (core/rules_message.h): what the publisher writes
// is what a node reads, and a message that is not whole is refused.
#include "core/rules_message.h"

#include <gtest/gtest.h>

namespace tally::nats {
namespace {

constexpr std::string_view kRules = "[score]\nbase = 0\n[rules.red_light]\npoints = 3\n";

// The NATS library must be opened before messages are made (a connection
// does it in tally; here, no server is needed).
class RulesMessageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(nats_Open(-1), NATS_OK); }
};

TEST_F(RulesMessageTest, AVersionIsAHashOfTheBytesSoOneByteMoreIsAnotherVersion) {
  EXPECT_EQ(rules_version(kRules), rules_version(std::string(kRules)));
  EXPECT_EQ(rules_version(kRules).size(), 16u);
  EXPECT_NE(rules_version(kRules), rules_version(std::string(kRules) + "\n"));
}

TEST_F(RulesMessageTest, TheRulesSubjectIsBesideThePartitions) {
  EXPECT_EQ(rules_subject("TALLY"), "tally.rules");
  EXPECT_EQ(rules_subject("City_A"), "city_a.rules");
}

TEST_F(RulesMessageTest, WhatIsWrittenReadsBackWithItsVersion) {
  const std::string version = rules_version(kRules);
  Result<Msg> message = make_rules_message("tally.events.3", version, kRules);
  ASSERT_TRUE(message.is_ok()) << message.status().to_string();
  EXPECT_TRUE(is_rules_message(message->get()));
  Result<RulesMessage> read = read_rules_message(message->get());
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->version, version);
  EXPECT_EQ(read->text, kRules);
}

TEST_F(RulesMessageTest, AnEventMessageIsNotRules) {
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "tally.events.0", nullptr, "{}", 2), NATS_OK);
  Msg message(raw);
  EXPECT_FALSE(is_rules_message(raw));
}

TEST_F(RulesMessageTest, AVersionThatDoesNotMatchTheBytesIsRefused) {
  Result<Msg> message = make_rules_message("tally.events.0", "0123456789abcdef", kRules);
  ASSERT_TRUE(message.is_ok());
  EXPECT_TRUE(is_rules_message(message->get()));
  const Result<RulesMessage> read = read_rules_message(message->get());
  ASSERT_FALSE(read.is_ok());
  EXPECT_NE(read.status().to_string().find("marked version 0123456789abcdef"), std::string::npos)
      << read.status().to_string();
}

}  // namespace
}  // namespace tally::nats
