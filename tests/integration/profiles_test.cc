// The shipped rule profiles (config/rules/), end to end: each one loaded by the
// real tallyd, a realistic driver's history sent over the acknowledged socket,
// and the score and tier asked for at given dates, through every tier up to
// the top one and past the expiry of the oldest points. And `tally rules
// check` over every shipped profile and over broken files.
//
// The profiles run on the wall clock, so every question carries `at`, and the
// daemon's purge is pushed a year away: nothing here depends on today's date.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "scorer/rules.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/queries.h"

namespace tally::testing {
namespace {

const std::filesystem::path kProfiles = source_tree() / "config/rules";

struct Violation {
  std::string type;
  std::string time;  // RFC 3339, the event time the profile's comment asks for
};

// What a case officer should hear when asking for the score at `at`.
struct Expected {
  std::string at;
  std::int64_t score;
  std::string tier;
  std::string why;  // printed when the check fails
};

class ProfilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A purge drops what expired more than `retain` before the wall clock's
    // now; with the histories below in the past, one could run mid-test on a
    // slow machine in some future year. Push it out of the test's reach.
    write_file(dir_ / "tallyd.toml", "purge_interval_s = 31536000\n");
  }
  DaemonProcess start(const std::string& profile) {
    return DaemonProcess(kProfiles / profile, dir_ / "data",
                         {"--config", (dir_ / "tallyd.toml").string()});
  }

  // Sends the history as one acknowledged batch; every event must be taken.
  void send(DaemonProcess& daemon, const std::string& subject,
            const std::vector<Violation>& history) {
    std::string batch;
    for (std::size_t i = 0; i < history.size(); ++i) {
      batch +=
          event_line(fmt::format("{}-{}", subject, i), subject, history[i].type, history[i].time);
    }
    const std::string answer = daemon.submit_batch(subject, batch);
    auto json = parse_json(parser_, answer);
    EXPECT_EQ(json["accepted"].get_int64().value(), static_cast<std::int64_t>(history.size()))
        << answer;
    EXPECT_EQ(json["rejected"].get_array().value().size(), 0u) << answer;
  }

  void expect_scores(DaemonProcess& daemon, const std::string& subject,
                     const std::vector<Expected>& expected) {
    for (const Expected& e : expected) {
      const std::string answer = daemon.ask(score_request(subject, e.at));
      auto json = parse_json(parser_, answer);
      EXPECT_EQ(json["score"].get_int64().value(), e.score) << e.at << ": " << e.why;
      EXPECT_EQ(json["tier"].get_string().value(), e.tier) << e.at << ": " << e.why;
    }
  }

  TempDir dir_{"profiles"};
  simdjson::dom::parser parser_;
};

TEST_F(ProfilesTest, NewYorkDriverReachesSuspensionAndPointsLeaveAfter18Months) {
  auto daemon = start("demerit-ny.toml");
  const std::string driver = "licence:NY:D123456789";
  send(daemon, driver,
       {{"speeding_11_20", "2023-01-15T09:30:00Z"},
        {"red_light", "2023-06-02T17:05:00Z"},
        {"phone_use", "2023-11-20T08:10:00Z"}});
  expect_scores(daemon, driver,
                {{"2023-01-01T00:00:00Z", 0, "clear", "before any violation"},
                 {"2023-01-15T09:30:00Z", 4, "clear", "speeding 11-20 counts from its time"},
                 {"2023-06-02T17:05:00Z", 7, "assessment", "7 points: a DRA (6 or more)"},
                 {"2023-11-20T08:10:00Z", 12, "suspension", "12 points in 18 months"},
                 {"2024-07-16T09:29:59Z", 12, "suspension", "the speeding still counts"},
                 {"2024-07-16T09:30:00Z", 8, "assessment", "548 days on, the speeding expired"},
                 {"2024-12-01T17:05:00Z", 5, "clear", "548 days on, the red light expired"},
                 {"2025-05-21T08:10:00Z", 0, "clear", "everything expired"}});
}

TEST_F(ProfilesTest, UkDriverIsDisqualifiedAt12AndPointsCountThreeYears) {
  auto daemon = start("demerit-uk.toml");
  const std::string driver = "licence:GB:MORGA753116SM9IJ";
  send(daemon, driver,
       {{"sp30", "2021-03-10T14:00:00Z"},
        {"ts10", "2022-01-05T08:45:00Z"},
        {"cu80", "2023-02-14T18:20:00Z"}});
  expect_scores(daemon, driver,
                {{"2021-03-09T00:00:00Z", 0, "clear", "a clean licence"},
                 {"2021-03-10T14:00:00Z", 3, "endorsed", "SP30, 3 points"},
                 {"2022-06-01T00:00:00Z", 6, "endorsed", "SP30 and TS10"},
                 {"2023-02-14T18:20:00Z", 12, "disqualification", "CU80 makes 12: TT99"},
                 {"2024-03-10T13:59:59Z", 12, "disqualification", "SP30 counts 3 years"},
                 {"2024-03-10T14:00:00Z", 9, "endorsed", "1096 days on, SP30 stopped counting"},
                 {"2026-02-14T18:20:00Z", 0, "clear", "everything stopped counting"}});
}

TEST_F(ProfilesTest, UkNewDriverLosesTheLicenceAtSixPoints) {
  const std::string driver = "licence:GB:NEWDR405120AB1CD";
  const std::vector<Violation> history = {{"sp30", "2024-05-01T07:50:00Z"},
                                          {"cu80", "2024-09-12T16:15:00Z"}};
  {
    auto daemon = start("demerit-uk-new-driver.toml");
    send(daemon, driver, history);
    expect_scores(daemon, driver,
                  {{"2024-05-01T07:50:00Z", 3, "endorsed", "SP30, 3 points"},
                   {"2024-09-12T16:15:00Z", 9, "revoked", "6 or more: New Drivers Act"},
                   {"2027-05-02T07:49:59Z", 9, "revoked", "SP30 counts 3 years"},
                   {"2027-05-02T07:50:00Z", 6, "revoked", "CU80 alone is 6"},
                   {"2027-09-13T16:15:00Z", 0, "clear", "everything stopped counting"}});
  }
  // The same history under the standard profile is only endorsed.
  std::filesystem::remove_all(dir_ / "data");
  auto daemon = start("demerit-uk.toml");
  send(daemon, driver, history);
  expect_scores(
      daemon, driver,
      {{"2024-09-12T16:15:00Z", 9, "endorsed", "an experienced driver keeps the licence"}});
}

TEST_F(ProfilesTest, ChinaDriverReachesTwelveInAYearAndPointsLeaveAfter365Days) {
  auto daemon = start("demerit-cn.toml");
  const std::string driver = "licence:CN:110101199001011234";
  send(daemon, driver,
       {{"red_light", "2023-04-10T11:00:00Z"},
        {"phone_handheld", "2023-07-01T03:20:00Z"},
        {"seatbelt", "2023-09-15T06:00:00Z"},
        {"speeding_other_expressway_20_50", "2023-12-20T02:40:00Z"}});
  expect_scores(daemon, driver,
                {{"2023-04-10T11:00:00Z", 6, "clear", "red light, 6 points"},
                 {"2023-09-15T06:00:00Z", 10, "clear", "red light, phone, seat belt"},
                 {"2023-12-20T02:40:00Z", 16, "licence_withheld", "12 or more: study and exam"},
                 {"2024-04-09T10:59:59Z", 16, "licence_withheld", "the red light still counts"},
                 {"2024-04-09T11:00:00Z", 10, "clear", "365 days on, the red light expired"},
                 {"2024-12-19T02:40:00Z", 0, "clear", "everything expired"}});

  // Under 20% over the limit in a car scores no points: there is no rule,
  // and such an event is refused by name rather than scored as something else.
  const std::string answer = daemon.submit_batch(
      "under-20",
      R"({"id":"u1","subject":"licence:CN:x","type":"speeding_other_road_under_20","time":"2024-01-01T00:00:00Z"})"
      "\n");
  EXPECT_NE(answer.find(R"("reason":"unknown_type")"), std::string::npos) << answer;
}

TEST_F(ProfilesTest, GermanDriverClimbsToRevocationAndEntriesAreDeletedInTurn) {
  auto daemon = start("demerit-de.toml");
  const std::string driver = "licence:DE:B072RRE2I55";
  // Times are the days the decisions became final (Rechtskraft).
  send(daemon, driver,
       {{"speeding_urban_21_30", "2020-02-01T00:00:00Z"},
        {"red_light_over_1s", "2020-09-01T00:00:00Z"},
        {"phone_use", "2021-03-01T00:00:00Z"},
        {"alcohol_0_5", "2021-06-01T00:00:00Z"},
        {"drunk_driving_criminal", "2022-01-10T00:00:00Z"}});
  expect_scores(daemon, driver,
                {{"2020-02-01T00:00:00Z", 1, "recorded", "1 point"},
                 {"2020-12-01T00:00:00Z", 3, "recorded", "1 + 2"},
                 {"2021-03-01T00:00:00Z", 4, "reminder", "4-5: Ermahnung"},
                 {"2021-06-01T00:00:00Z", 6, "warning", "6-7: Verwarnung"},
                 {"2022-01-10T00:00:00Z", 9, "revoked", "8 or more: Entziehung"},
                 {"2022-08-01T23:59:59Z", 9, "revoked", "the 1-point entry of 2020 still counts"},
                 {"2022-08-02T00:00:00Z", 8, "revoked", "a 1-point entry goes after 2.5 years"},
                 {"2023-08-31T00:00:00Z", 7, "warning", "the second 1-point entry went"},
                 {"2025-09-01T00:00:00Z", 5, "reminder", "a 2-point entry goes after 5 years"},
                 {"2026-06-01T00:00:00Z", 3, "recorded", "the second 2-point entry went"},
                 {"2032-01-09T23:59:59Z", 3, "recorded", "a 3-point entry counts 10 years"},
                 {"2032-01-10T00:00:00Z", 0, "clear", "and then goes"}});
}

TEST_F(ProfilesTest, CityCreditGoodActsRaiseToAAAAndPenaltiesLower) {
  auto daemon = start("city-credit.toml");
  const std::string citizen = "person:330782199203150021";
  send(daemon, citizen,
       {{"assist_police", "2024-01-10T10:00:00Z"},
        {"report_lead", "2024-02-01T10:00:00Z"},
        {"volunteer", "2024-03-05T10:00:00Z"},
        {"red_light", "2024-05-20T10:00:00Z"},
        {"unpaid_fine", "2024-08-01T10:00:00Z"}});
  expect_scores(daemon, citizen,
                {{"2024-01-01T00:00:00Z", 1000, "A", "everyone starts at 1000"},
                 {"2024-01-10T10:00:00Z", 1020, "A", "assisting police, +20"},
                 {"2024-02-01T10:00:00Z", 1050, "AAA", "a lead that solved a case, +30"},
                 {"2024-03-05T10:00:00Z", 1060, "AAA", "volunteering, +10"},
                 {"2024-05-20T10:00:00Z", 1040, "AA", "a red light, -20"},
                 {"2024-08-01T10:00:00Z", 1000, "A", "a fine left unpaid, -40"},
                 {"2025-03-05T09:59:59Z", 1000, "A", "volunteering counts a year"},
                 {"2025-03-05T10:00:00Z", 990, "A", "and then goes"},
                 {"2026-01-09T10:00:00Z", 970, "A", "assisting police counted two years"}});

  const std::string debtor = "person:330782198507070013";
  send(daemon, debtor,
       {{"drunk_driving", "2024-04-01T22:00:00Z"},
        {"judgment_unperformed", "2024-06-01T00:00:00Z"}});
  expect_scores(daemon, debtor,
                {{"2024-04-02T00:00:00Z", 850, "B", "drunk driving, -150"},
                 {"2024-06-01T00:00:00Z", 750, "C", "an unperformed judgment, -100"},
                 {"2027-06-01T00:00:00Z", 850, "B", "the judgment counted three years"}});
}

// ---- tally rules check ---------------------------------------------------------

std::string escaped(const std::string& text) {
  return std::regex_replace(text, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
}

TEST(RulesCheckTest, EveryShippedProfileLoadsAndIsPrintedRuleByRule) {
  int profiles = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kProfiles)) {
    if (entry.path().extension() != ".toml") continue;
    ++profiles;
    const std::string path = entry.path().string();
    SCOPED_TRACE(path);
    auto loaded = scorer::load_rules_file(path, 1);
    ASSERT_TRUE(loaded) << loaded.status().to_string();
    const auto& rules = **loaded;

    const ProgramResult check = run_program({tally_path(), "rules", "check", path});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find(fmt::format("{}: valid, {} rules, {} tiers", path,
                                            rules.rules().size(), rules.tiers().size())),
              std::string::npos)
        << check.output;
    for (const scorer::Rule& rule : rules.rules()) {
      // A shipped rule says what it is for: explain and reviewers show it.
      EXPECT_FALSE(rule.description.empty()) << rule.name;
      // One table line: name, points, expiry, description.
      const std::string expiry = rule.expires_after_ms > 0
                                     ? scorer::format_duration(rule.expires_after_ms)
                                     : std::string("never");
      const std::regex line(fmt::format(R"((^|\n) +{} +{} +{} +{}\n)", escaped(rule.name),
                                        rule.points, escaped(expiry), escaped(rule.description)));
      EXPECT_TRUE(std::regex_search(check.output, line)) << "no table line for " << rule.name;
    }
    for (const scorer::Tier& tier : rules.tiers()) {
      const std::regex line(fmt::format(R"(\n +{} +{} +)", escaped(tier.name), tier.min));
      EXPECT_TRUE(std::regex_search(check.output, line)) << "no line for tier " << tier.name;
    }
    EXPECT_NE(check.output.find(
                  fmt::format("retain  {}", scorer::format_duration(rules.score().retain_ms))),
              std::string::npos);
  }
  EXPECT_GE(profiles, 7);  // camera-nyc, city-credit, and the five demerit schemes
}

TEST(RulesCheckTest, PrintsTheScoreSettingsAndEachTiersRange) {
  const ProgramResult check =
      run_program({tally_path(), "rules", "check", (kProfiles / "demerit-ny.toml").string()});
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("base    0\n"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("clamp   min 0, max none\n"), std::string::npos);
  EXPECT_NE(check.output.find("clock   wall"), std::string::npos);
  EXPECT_TRUE(std::regex_search(check.output, std::regex(R"(assessment +6 +6 to 10\n)")));
  EXPECT_TRUE(std::regex_search(check.output, std::regex(R"(suspension +11 +11 and above\n)")));
}

TEST(RulesCheckTest, RefusesABrokenFileWithFileLineAndReason) {
  const TempDir dir("rules-check");
  const auto bad_duration = (dir / "bad-duration.toml").string();
  write_file(bad_duration,
             "[score]\nbase = 0\n\n[rules.red_light]\npoints = 3\nexpires_after = \"18 months\"\n");
  ProgramResult check = run_program({tally_path(), "rules", "check", bad_duration});
  EXPECT_EQ(check.exit_code, 3);
  EXPECT_NE(check.output.find(bad_duration + ":6:17: `expires_after` must be a duration"),
            std::string::npos)
      << check.output;
  EXPECT_EQ(check.output.find("valid"), std::string::npos);

  const auto duplicate_tier = (dir / "duplicate-tier.toml").string();
  write_file(duplicate_tier,
             "[rules.x]\npoints = 1\n[[tier]]\nname = \"a\"\nmin = 0\n[[tier]]\nname = \"a\"\n"
             "min = 5\n");
  check = run_program({tally_path(), "rules", "check", duplicate_tier});
  EXPECT_EQ(check.exit_code, 3);
  EXPECT_NE(check.output.find(duplicate_tier + ":7:8: duplicate tier name `a`"), std::string::npos)
      << check.output;

  const auto syntax = (dir / "syntax.toml").string();
  write_file(syntax, "[rules.x]\npoints = \n");
  check = run_program({tally_path(), "rules", "check", syntax});
  EXPECT_EQ(check.exit_code, 3);
  EXPECT_NE(check.output.find(syntax + ":2:"), std::string::npos) << check.output;

  // A file that cannot be read is bad input (2), not a refusal.
  check = run_program({tally_path(), "rules", "check", (dir / "missing.toml").string()});
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_NE(check.output.find("cannot read"), std::string::npos) << check.output;
}

}  // namespace
}  // namespace tally::testing
