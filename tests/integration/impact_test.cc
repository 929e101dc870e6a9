// The impact of a proposed rules file through the real daemon and `tally`:
// a few thousand random events (some revoked), scored by an independent
// computation in the test under both files; the transition matrix and every
// CSV row agree with it; the live scores are the same afterwards; a refused
// proposal answers with file and line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "api/answers.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/json.h"
#include "tests/support/queries.h"

namespace tally::testing {
namespace {

constexpr std::int64_t kDay = 24LL * 3600 * 1000;
constexpr std::int64_t kAt = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// The terms of one event type under one file: points and expiry in days
// (0: never); absent from the map: the file does not name it.
struct Terms {
  int points;
  int expiry_days;
};
struct Scheme {
  std::int64_t base, min, max;
  std::map<std::string, Terms> types;
  std::vector<std::pair<std::string, std::int64_t>> tiers;  // ascending min

  std::int64_t score(const std::vector<std::pair<std::string, std::int64_t>>& events) const {
    std::int64_t sum = base;
    for (const auto& [type, time] : events) {
      const auto it = types.find(type);
      if (it == types.end()) continue;
      const std::int64_t expires = it->second.expiry_days == 0
                                       ? std::numeric_limits<std::int64_t>::max()
                                       : time + it->second.expiry_days * kDay;
      if (time <= kAt && kAt < expires) sum += it->second.points;
    }
    return std::clamp(sum, min, max);
  }
  std::string tier(std::int64_t score) const {
    std::string name;
    for (const auto& [tier, from] : tiers) {
      if (score >= from) name = tier;
    }
    return name;
  }

  // The scheme as a rules file: the test's computation and tallyd's read one
  // statement of it.
  std::string toml() const {
    std::string text = fmt::format("[score]\nbase = {}\nmin = {}\nmax = {}\n", base, min, max);
    for (const auto& [type, terms] : types) {
      text += fmt::format("[rules.{}]\npoints = {}\n", type, terms.points);
      if (terms.expiry_days != 0)
        text += fmt::format("expires_after = \"{}d\"\n", terms.expiry_days);
    }
    for (const auto& [tier, from] : tiers)
      text += fmt::format("[[tier]]\nname = \"{}\"\nmin = {}\n", tier, from);
    return text;
  }
};

const Scheme kLive = {0,
                      0,
                      100,
                      {{"red_light", {3, 540}}, {"speeding", {4, 0}}, {"phone", {2, 180}}},
                      {{"clear", 0}, {"warning", 6}, {"suspension", 11}}};

const Scheme kProposal = {1,
                          0,
                          12,
                          {{"red_light", {5, 90}}, {"phone", {2, 180}}, {"camera", {1, 30}}},
                          {{"clear", 0}, {"amber", 4}, {"suspension", 9}}};

TEST(ImpactTest, TheMatrixAndEveryRowAgreeWithAnIndependentComputation) {
  TempDir dir("impact");
  write_file(dir / "live.toml", kLive.toml());
  write_file(dir / "proposal.toml", kProposal.toml());
  write_file(dir / "broken.toml", "[rules.x]\npoints = \"many\"\n");
  DaemonProcess daemon(dir / "live.toml", dir / "data", {"--workers", "2"});

  // 4,000 events over 600 subjects in the year before kAt; every 15th is
  // revoked (it counts in neither file).
  const auto seed = std::random_device()();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 random(seed);
  const std::vector<std::string> types = {"red_light", "speeding", "phone"};
  std::map<std::string, std::vector<std::pair<std::string, std::int64_t>>> counted;
  std::string batch;
  for (int i = 0; i < 4000; ++i) {
    const std::string subject = fmt::format("driver:{}", random() % 600);
    const std::string& type = types[random() % types.size()];
    const std::int64_t time = kAt - static_cast<std::int64_t>(random() % 365) * kDay;
    const std::string id = fmt::format("e{}", i);
    batch += event_line(id, subject, type, time);
    counted[subject];  // a subject whose events are all revoked is still one
    if (i % 15 == 0) {
      batch += event_line("r" + id, subject, "revoke", time + kDay, {.revokes = id});
    } else {
      counted[subject].emplace_back(type, time);
    }
    if (batch.size() > 64 * 1024) {
      daemon.submit_batch(fmt::format("b{}", i), batch);
      batch.clear();
    }
  }
  daemon.submit_batch("last", batch);

  // The independent computation.
  std::map<std::pair<std::string, std::string>, std::uint64_t> matrix;
  std::map<std::string, std::string> rows;  // subject -> its CSV row
  for (const auto& [subject, events] : counted) {
    const std::int64_t now = kLive.score(events);
    const std::int64_t proposed = kProposal.score(events);
    ++matrix[{kLive.tier(now), kProposal.tier(proposed)}];
    if (now != proposed || kLive.tier(now) != kProposal.tier(proposed)) {
      rows[subject] = fmt::format("{},{},{},{},{}", subject, now, proposed, kLive.tier(now),
                                  kProposal.tier(proposed));
    }
  }

  const std::string csv = (dir / "changed.csv").string();
  const ProgramResult printed =
      run_program({tally_path(), "--query", daemon.query(), "rules", "impact",
                   (dir / "proposal.toml").string(), "--at", "2026-01-01T00:00:00Z", "--csv", csv},
                  std::chrono::minutes(2));
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find("now \\ proposed"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("amber (new)"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("warning (gone)"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("not in the proposal: counts 0"), std::string::npos);

  std::ifstream in(csv);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "subject,score_now,score_proposed,tier_now,tier_proposed");
  std::map<std::string, std::string> written;
  while (std::getline(in, line)) written[line.substr(0, line.find(','))] = line;
  EXPECT_EQ(written.size(), rows.size());
  for (const auto& [subject, row] : rows) EXPECT_EQ(written[subject], row) << subject;

  api::ImpactRequest request;
  request.rules = kProposal.toml();
  request.at_ms = kAt;
  const auto answer =
      api::parse_answer<api::ImpactAnswer>(daemon.ask(api::to_json(api::Request(request))));
  ASSERT_TRUE(answer) << answer.status().to_string();
  EXPECT_EQ(answer->subjects, counted.size());
  std::map<std::pair<std::string, std::string>, std::uint64_t> answered;
  for (const auto& t : answer->transitions) answered[{t.from, t.to}] = t.count;
  EXPECT_EQ(answered, matrix);

  // Nothing live changed.
  for (const auto& [subject, events] : counted) {
    ASSERT_EQ(score_of(daemon, subject, "2026-01-01T00:00:00Z"), kLive.score(events)) << subject;
  }

  // A refused proposal: as a reload would refuse it, with file and line.
  const ProgramResult refused = run_program(
      {tally_path(), "--query", daemon.query(), "rules", "impact", (dir / "broken.toml").string()});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("rules_refused"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("broken.toml:2:"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace tally::testing
