// Keys and key files, the auth file and what each role may do.
#include "security/access.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "security/curve_keys.h"
#include "tests/support/files.h"

namespace tally::security {
namespace {

namespace fs = std::filesystem;
using tally::testing::TempDir;
using tally::testing::write_file;

TEST(CurveKeysTest, APairIsZ85AndThePublicKeyFollowsFromTheSecret) {
  const auto pair = generate_key_pair();
  ASSERT_TRUE(pair) << pair.status().to_string();
  EXPECT_TRUE(is_z85_key(pair->public_key));
  EXPECT_TRUE(is_z85_key(pair->secret_key.z85()));
  EXPECT_EQ(*public_key_of(pair->secret_key), pair->public_key);
  EXPECT_FALSE(is_z85_key("short"));
  EXPECT_FALSE(is_z85_key(std::string(40, ' ')));
  EXPECT_FALSE(public_key_of(SecretKey("not a key")));
}

TEST(CurveKeysTest, KeyFilesAreWrittenOwnerOnlyAndReadWithLimits) {
  TempDir dir("keys");
  const auto pair = generate_key_pair();
  ASSERT_TRUE(pair);
  const std::string prefix = (dir / "k").string();
  ASSERT_TRUE(write_key_files(prefix, *pair).is_ok());
  EXPECT_FALSE(write_key_files(prefix, *pair).is_ok()) << "never overwritten";
  const auto secret = read_secret_key_file(prefix + ".key");
  ASSERT_TRUE(secret) << secret.status().to_string();
  EXPECT_EQ(secret->z85(), pair->secret_key.z85());
  EXPECT_EQ(*read_public_key(prefix + ".pub"), pair->public_key);
  EXPECT_EQ(*read_public_key(pair->public_key), pair->public_key);

  fs::permissions(prefix + ".key", fs::perms::others_read, fs::perm_options::add);
  const auto exposed = read_secret_key_file(prefix + ".key");
  ASSERT_FALSE(exposed);
  EXPECT_NE(exposed.status().to_string().find("chmod 600"), std::string::npos);

  const auto endless = read_public_key("/dev/zero");
  ASSERT_FALSE(endless);
  EXPECT_NE(endless.status().to_string().find("over 4096 bytes"), std::string::npos)
      << endless.status().to_string();
  write_file(dir / "junk.pub", "not a key\n");
  EXPECT_FALSE(read_public_key((dir / "junk.pub").string()));
}

TEST(AccessListTest, LoadsClientsAndRefusesWhatIsWrongWithItsPlace) {
  TempDir dir("access");
  const auto server = generate_key_pair();
  const auto a = generate_key_pair();
  const auto b = generate_key_pair();
  ASSERT_TRUE(server && a && b);
  ASSERT_TRUE(write_key_files((dir / "server").string(), *server).is_ok());
  const std::string clients = fmt::format(
      "[[client]]\nname = \"cam\"\npublic_key = \"{}\"\nroles = [\"producer\"]\n"
      "[[client]]\nname = \"desk\"\npublic_key = \"{}\"\nroles = [\"reader\", \"appeals\"]\n",
      a->public_key, b->public_key);
  write_file(dir / "auth.toml", "server_secret_key_file = \"server.key\"\n" + clients);
  const auto list = AccessList::load((dir / "auth.toml").string());
  ASSERT_TRUE(list) << list.status().to_string();
  EXPECT_EQ((*list)->server_public_key(), server->public_key);
  ASSERT_NE((*list)->by_key(a->public_key), nullptr);
  EXPECT_EQ((*list)->by_key(a->public_key)->name, "cam");
  EXPECT_EQ((*list)->roles_of("desk"), bit(Role::kReader) | bit(Role::kAppeals));
  EXPECT_EQ((*list)->roles_of("nobody"), 0);

  const auto refused = [&](const std::string& text, const std::string& expected) {
    write_file(dir / "bad.toml", text);
    const auto bad = AccessList::load((dir / "bad.toml").string());
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.status().to_string().find(expected), std::string::npos)
        << bad.status().to_string();
  };
  refused(clients, "server_secret_key_file");
  refused("server_secret_key_file = \"missing.key\"\n", "missing.key");
  refused(
      "server_secret_key_file = \"server.key\"\n[[client]]\nname = \"x\"\npublic_key = "
      "\"short\"\nroles = [\"reader\"]\n",
      "bad.toml:2:1: client `x` needs a `public_key`");
  refused(fmt::format("server_secret_key_file = \"server.key\"\n[[client]]\nname = \"x\"\n"
                      "public_key = \"{}\"\nroles = [\"admin\"]\n",
                      a->public_key),
          "a role is one of producer, appeals, reader, operator");
  refused("server_secret_key_file = \"server.key\"\n" + clients +
              fmt::format("[[client]]\nname = \"cam\"\npublic_key = \"{}\"\nroles = []\n",
                          server->public_key),
          "two clients named `cam`");
  refused("server_secret_key_file = \"server.key\"\nclients = 1\n", "unknown key `clients`");
}

TEST(AccessListTest, EachOpNeedsItsRoleAndTheRefusalNamesIt) {
  const Roles reader = bit(Role::kReader);
  const Roles operate = bit(Role::kOperator);
  EXPECT_TRUE(AccessList::may_ask(reader, "r", api::ScoreRequest{"s", {}}).is_ok());
  EXPECT_TRUE(AccessList::may_ask(reader, "r", api::AlertsRequest{}).is_ok());
  EXPECT_TRUE(AccessList::may_ask(reader, "r", api::WorkersRequest{}).is_ok());
  const Status set = AccessList::may_ask(reader, "r", api::WorkersRequest{4});
  EXPECT_EQ(api::error_code_of(set), api::ErrorCode::kForbidden);
  EXPECT_NE(set.to_string().find("with `set`"), std::string::npos) << set.to_string();
  const Status reload = AccessList::may_ask(reader, "r", api::ReloadRequest{});
  EXPECT_NE(reload.to_string().find("client `r` (roles reader) may not ask `reload`"),
            std::string::npos)
      << reload.to_string();
  EXPECT_TRUE(AccessList::may_ask(operate, "o", api::ReloadRequest{}).is_ok());
  EXPECT_TRUE(AccessList::may_ask(operate, "o", api::SnapshotRequest{}).is_ok());
  EXPECT_FALSE(AccessList::may_ask(operate, "o", api::ExplainRequest{"s", {}}).is_ok());
  EXPECT_FALSE(AccessList::may_ask(0, "gone", api::StatsRequest{}).is_ok());

  EXPECT_TRUE(AccessList::may_send(bit(Role::kProducer), false));
  EXPECT_FALSE(AccessList::may_send(bit(Role::kProducer), true));
  EXPECT_TRUE(AccessList::may_send(bit(Role::kAppeals), true));
  EXPECT_TRUE(AccessList::may_enter(bit(Role::kAppeals), Door::kSubmit));
  EXPECT_FALSE(AccessList::may_enter(bit(Role::kProducer), Door::kQuery));
  EXPECT_FALSE(AccessList::may_enter(bit(Role::kOperator), Door::kAlerts));
  EXPECT_TRUE(AccessList::may_enter(bit(Role::kReader), Door::kAlerts));
}

}  // namespace
}  // namespace tally::security
