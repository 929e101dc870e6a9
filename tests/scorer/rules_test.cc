#include "scorer/rules.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace tally::scorer {
namespace {

std::shared_ptr<const RuleSet> parse_ok(const std::string& text) {
  auto result = parse_rules(text, "test.toml", 1);
  if (!result) {
    ADD_FAILURE() << result.status().to_string();
    return nullptr;
  }
  return *result;
}

Status parse_error(const std::string& text) {
  auto result = parse_rules(text, "test.toml", 1);
  EXPECT_FALSE(result) << text;
  return result ? Status::internal("parsed") : result.status();
}

TEST(RulesTest, DefaultsAndLookups) {
  auto rules = parse_ok(
      "[rules.red_light]\npoints = 3\nexpires_after = \"540d\"\n"
      "description = \"Red light\"\n[rules.assist]\npoints = -2\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->score().base, 0);
  EXPECT_EQ(rules->score().clock, Clock::kWall);
  EXPECT_EQ(rules->score().retain_ms, 730LL * 86400000);
  const Rule* red = rules->find("red_light");
  ASSERT_NE(red, nullptr);
  EXPECT_EQ(red->points, 3);
  EXPECT_EQ(red->expires_after_ms, 540LL * 86400000);
  EXPECT_EQ(red->description, "Red light");
  EXPECT_EQ(rules->find("assist")->expires_after_ms, kNever);
  EXPECT_EQ(rules->resolve("nope"), nullptr);
  const auto* revoke = rules->resolve("revoke");
  ASSERT_NE(revoke, nullptr);
  EXPECT_TRUE(revoke->is_revoke);
  EXPECT_EQ(RuleSet::rule_of(*revoke).name, "revoke");
  EXPECT_EQ(rules->tier_for(100), "");
}

TEST(RulesTest, RulesComeOutInFileOrder) {
  // Not name order: `tally rules check` shows a reviewer the file as written.
  auto rules =
      parse_ok("[rules.zebra]\npoints = 1\n[rules.alpha]\npoints = 2\n[rules.mid]\npoints = 3\n");
  ASSERT_TRUE(rules);
  std::vector<std::string> names;
  for (const Rule& rule : rules->rules()) names.push_back(rule.name);
  EXPECT_EQ(names, (std::vector<std::string>{"zebra", "alpha", "mid"}));
  EXPECT_EQ(rules->find("alpha")->points, 2);
}

TEST(RulesTest, TiersClampAndClock) {
  auto rules = parse_ok(R"(
[score]
base = 1000
min = 0
max = 2000
clock = "event"
retain = "2w"
[rules.x]
points = -5
[[tier]]
name = "B"
min = 900
[[tier]]
name = "D"
min = 0
[[tier]]
name = "A"
min = 1000
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->score().clock, Clock::kEvent);
  EXPECT_EQ(rules->score().retain_ms, 14LL * 86400000);
  ASSERT_EQ(rules->tiers().size(), 3u);
  EXPECT_EQ(rules->tiers().front().name, "D");  // sorted by min
  EXPECT_EQ(rules->tier_for(-1), "");
  EXPECT_EQ(rules->tier_for(0), "D");
  EXPECT_EQ(rules->tier_for(899), "D");
  EXPECT_EQ(rules->tier_for(900), "B");
  EXPECT_EQ(rules->tier_for(1000), "A");
  EXPECT_EQ(rules->clamp(-50), 0);
  EXPECT_EQ(rules->clamp(5000), 2000);
  EXPECT_EQ(rules->clamp(1234), 1234);
}

TEST(RulesTest, RefusesWithFileLineAndReason) {
  struct Case {
    std::string text;
    std::uint32_t line;
    std::string reason_part;
  };
  const std::vector<Case> cases = {
      {"[rules.a]\npoints = 3\npoints = 4\n", 3, ""},  // TOML: duplicate key
      {"[rules.a]\npoints = \"three\"\n", 2, "integer"},
      {"[rules.a]\nexpires_after = \"1d\"\n", 1, "no `points`"},
      {"[rules.a]\npoints = 1\nexpires_after = \"forever\"\n", 3, "duration"},
      {"[rules.a]\npoints = 1\nexpires_after = \"0d\"\n", 3, "duration"},
      {"[rules.a]\npoints = 1\nexpires_after = \"10y\"\n", 3, "duration"},
      {"[rules.a]\npoints = 1\npoints_typo = 2\n", 3, "unknown key"},
      {"[score]\nclock = \"sundial\"\n[rules.a]\npoints = 1\n", 2, "clock"},
      {"[score]\nmin = 10\nmax = 0\n[rules.a]\npoints = 1\n", 1, "greater"},
      {"[score]\nbase = 50\nmax = 10\n[rules.a]\npoints = 1\n", 1, "base"},
      {"[score]\nretain = \"soon\"\n[rules.a]\npoints = 1\n", 2, "duration"},
      {"[rules.revoke]\npoints = 1\n", 1, "built in"},
      {"[rules.RedLight]\npoints = 1\n", 1, "lower-case"},
      {"[rules.a]\npoints = 99999999999\n", 2, "range"},
      {"[score]\nbase = 9223372036854775807\n[rules.a]\npoints = 1\n", 2, "1e15"},
      {"[score]\nmin = -2000000000000000\n[rules.a]\npoints = 1\n", 2, "1e15"},
      {"[rules.a]\npoints = 1\n[[tier]]\nname = \"x\"\nmin = 0\n[[tier]]\nname = \"x\"\nmin = 5\n",
       7, "duplicate tier"},
      {"[rules.a]\npoints = 1\n[[tier]]\nname = \"x\"\nmin = 0\n[[tier]]\nname = \"y\"\nmin = 0\n",
       8, "same min"},
      {"[rules.a]\npoints = 1\n[[tier]]\nmin = 0\n", 3, "name"},
      {"[score]\nbase = 0\n", 0, "at least one rule"},
      {"[rules.a]\npoints = 1\n[extra]\nx = 1\n", 3, "unknown key"},
  };
  for (const auto& c : cases) {
    const Status error = parse_error(c.text);
    EXPECT_EQ(error.code(), Status::Code::kInvalidArgument) << error.to_string();
    ASSERT_NE(error.place(), nullptr) << error.to_string();
    EXPECT_EQ(error.place()->file, "test.toml");
    EXPECT_EQ(error.place()->line, c.line) << c.text << " -> " << error.to_string();
    EXPECT_NE(error.message().find(c.reason_part), std::string::npos) << error.to_string();
    // The reason alone, without the place (the reload answer has both, apart).
    EXPECT_EQ(error.message().find("test.toml"), std::string::npos) << error.to_string();
  }
  // The operator's line: FILE:LINE:COLUMN: REASON.
  const Status duplicate = parse_error("[rules.a]\npoints = 1\npoints_typo = 2\n");
  EXPECT_EQ(duplicate.to_string(),
            "test.toml:3:15: unknown key `points_typo` in [rules.a] (known: points, "
            "expires_after, description)");
}

TEST(RulesTest, UnreadableFileIsAnError) {
  auto result = load_rules_file("/nonexistent/rules.toml", 1);
  ASSERT_FALSE(result);
  const Status error = result.status();
  EXPECT_NE(error.message().find("cannot read"), std::string::npos);
  ASSERT_NE(error.place(), nullptr);
  EXPECT_EQ(error.place()->file, "/nonexistent/rules.toml");
  EXPECT_EQ(error.place()->line, 0u);
  EXPECT_EQ(error.to_string().rfind("/nonexistent/rules.toml: cannot read", 0), 0u)
      << error.to_string();
}

TEST(RulesTest, DurationsParseAndFormat) {
  EXPECT_EQ(parse_duration_ms("30s").value_or(-1), 30000);
  EXPECT_EQ(parse_duration_ms("5m").value_or(-1), 300000);
  EXPECT_EQ(parse_duration_ms("2h").value_or(-1), 7200000);
  EXPECT_EQ(parse_duration_ms("548d").value_or(-1), 548LL * 86400000);
  EXPECT_EQ(parse_duration_ms("3w").value_or(-1), 21LL * 86400000);
  EXPECT_EQ(parse_duration_ms("0s").value_or(-1), 0);
  for (const char* bad : {"", "d", "5", "5y", "-5d", "5.5d", " 5d", "99999999999d"}) {
    const Result<std::int64_t> parsed = parse_duration_ms(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(fmt::format("`{}`", bad)), std::string::npos)
        << parsed.status().to_string();
  }
  EXPECT_EQ(format_duration(548LL * 86400000), "548d");
  EXPECT_EQ(format_duration(21LL * 86400000), "3w");
  EXPECT_EQ(format_duration(90LL * 60000), "90m");
  EXPECT_EQ(format_duration(45000), "45s");
}

TEST(RulesTest, ShippedProfilesLoad) {
  const std::filesystem::path dir = std::filesystem::path(TALLY_SOURCE_DIR) / "config" / "rules";
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto result = load_rules_file(entry.path().string(), 1);
    ASSERT_TRUE(result) << result.status().to_string();
    for (const Rule& rule : (*result)->rules()) {
      EXPECT_FALSE(rule.description.empty()) << entry.path() << " rule " << rule.name;
    }
    ++loaded;
  }
  EXPECT_GE(loaded, 7);
  auto ny = load_rules_file((dir / "demerit-ny.toml").string(), 1).value();
  EXPECT_EQ(ny->find("speeding_over_40")->points, 11);
  EXPECT_EQ(ny->find("red_light")->expires_after_ms, 548LL * 86400000);
  EXPECT_EQ(ny->tier_for(6), "assessment");
  EXPECT_EQ(ny->tier_for(11), "suspension");
  auto credit = load_rules_file((dir / "city-credit.toml").string(), 1).value();
  EXPECT_EQ(credit->score().base, 1000);
  EXPECT_EQ(credit->tier_for(1000), "A");
  EXPECT_GT(credit->find("assist_police")->points, 0);
}

}  // namespace
}  // namespace tally::scorer
