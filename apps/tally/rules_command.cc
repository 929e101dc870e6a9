#include "apps/tally/rules_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "apps/tally/client_options.h"
#include "apps/tally/table.h"
#include "scorer/rules.h"

namespace tally::cli {
namespace {

std::string bound_text(std::int64_t value) {
  return value == std::numeric_limits<std::int64_t>::min() ||
                 value == std::numeric_limits<std::int64_t>::max()
             ? "none"
             : std::to_string(value);
}

// The scores a tier covers, in words.
std::string tier_scores(std::int64_t from, std::int64_t to, std::int64_t max) {
  if (from > max) return "unreachable (above the clamp's max)";
  if (to == std::numeric_limits<std::int64_t>::max()) return fmt::format("{} and above", from);
  if (to < from) return "unreachable (below the clamp's min)";
  return from == to ? std::to_string(from) : fmt::format("{} to {}", from, to);
}

// A rule set for people: every rule (file order), the score settings, and the
// tiers with the range of scores each one covers.
void print_rule_set(const scorer::RuleSet& rules) {
  const auto& config = rules.score();
  fmt::print("{}: valid, {} rules, {} tiers\n\n", rules.source(), rules.rules().size(),
             rules.tiers().size());

  std::vector<Row> table = {{"rule", "points", "expires", "description"}};
  for (const scorer::Rule& rule : rules.rules()) {
    table.push_back(
        {rule.name, std::to_string(rule.points),
         rule.expires_after_ms > 0 ? scorer::format_duration(rule.expires_after_ms) : "never",
         rule.description.empty() ? "-" : rule.description});
  }
  fmt::print("rules ({}):\n", rules.rules().size());
  print_table(table, {false, true, false, false});

  fmt::print("\nscore:\n");
  print_table(
      {{"base", std::to_string(config.base)},
       {"clamp", fmt::format("min {}, max {}", bound_text(config.min), bound_text(config.max))},
       {"clock", config.clock == scorer::Clock::kEvent
                     ? "event (now is the largest event time seen)"
                     : "wall (now is the wall clock)"},
       {"retain", scorer::format_duration(config.retain_ms) +
                      " (expired points and seen ids kept this long)"}},
      {false, false});

  const auto& tiers = rules.tiers();
  fmt::print("\ntiers ({}; a subject's tier is the one with the largest min <= its score):\n",
             tiers.size());
  if (tiers.empty()) {
    fmt::print("  none: every subject's tier is \"\"\n");
    return;
  }
  std::vector<Row> tier_rows = {{"tier", "min", "scores"}};
  if (config.min < tiers.front().min) {
    tier_rows.push_back({"\"\"", "-", fmt::format("below {}", tiers.front().min)});
  }
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const std::int64_t from = std::max(tiers[i].min, config.min);
    const std::int64_t to =
        i + 1 < tiers.size() ? std::min(tiers[i + 1].min - 1, config.max) : config.max;
    tier_rows.push_back(
        {tiers[i].name, std::to_string(tiers[i].min), tier_scores(from, to, config.max)});
  }
  print_table(tier_rows, {false, true, false});
}

}  // namespace

RulesCommand::RulesCommand(CLI::App& app) {
  auto* rules = app.add_subcommand("rules", "Work with rules files (no daemon needed)");
  rules->require_subcommand(1);
  check_ = rules->add_subcommand(
      "check", "Validate a rules file as tallyd would, and print its rules, score and tiers");
  check_->add_option("file", file_, "The rules file (TOML)")->required();
  check_->footer(
      "Prints each rule (name, points, expiry, description), the score settings\n"
      "(base, clamp, clock, retain) and the tiers with the scores each covers, so\n"
      "a change can be reviewed before `tally reload` or a restart loads it.\n"
      "A refused file prints FILE:LINE:COLUMN: REASON on stderr.\n\n"
      "Exit codes: 0 valid; 3 refused; 2 the file cannot be read.\n\n"
      "Example:\n"
      "  tally rules check config/rules/demerit-ny.toml");
}

int RulesCommand::run() const {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file_, error)) {
    std::fprintf(stderr, "tally: cannot read %s: %s\n", file_.c_str(),
                 error ? error.message().c_str()
                       : (std::filesystem::exists(file_) ? "not a regular file" : "no such file"));
    return kExitNoAnswer;
  }
  const auto result = scorer::load_rules_file(file_, 1);
  if (!result) {
    std::fprintf(stderr, "%s\n", result.status().to_string().c_str());
    return kExitRulesRefused;
  }
  print_rule_set(**result);
  return kExitDone;
}

}  // namespace tally::cli
