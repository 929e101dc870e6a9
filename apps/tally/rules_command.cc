#include "apps/tally/rules_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <variant>
#include <zmq.hpp>

#include "apps/tally/client_options.h"
#include "apps/tally/table.h"
#include "scorer/rules.h"
#include "scorer/rules_diff.h"

namespace tally::cli {
namespace {

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
  print_table({{"base", std::to_string(config.base)},
               {"clamp", fmt::format("min {}, max {}", scorer::format_bound(config.min),
                                     scorer::format_bound(config.max))},
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

// A file that must be a readable rules file: the set, or the exit code.
std::variant<std::shared_ptr<const scorer::RuleSet>, int> load(const std::string& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    std::fprintf(stderr, "tally: cannot read %s: %s\n", file.c_str(),
                 error ? error.message().c_str()
                       : (std::filesystem::exists(file) ? "not a regular file" : "no such file"));
    return kExitNoAnswer;
  }
  auto result = scorer::load_rules_file(file, 1);
  if (!result) {
    std::fprintf(stderr, "%s\n", result.status().to_string().c_str());
    return kExitRulesRefused;
  }
  return std::move(result).value();
}

void print_changes(const char* title, const std::vector<scorer::RulesDiff::Change>& changes) {
  if (changes.empty()) return;
  fmt::print("{}:\n", title);
  std::vector<Row> table = {{"", "before", "after"}};
  for (const auto& change : changes) {
    table.push_back({change.what, change.before.empty() ? "-" : change.before,
                     change.after.empty() ? "-" : change.after});
  }
  print_table(table, {false, false, false});
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

  diff_ = rules->add_subcommand("diff", "What changes from one rules file to another");
  diff_->add_option("old", old_file_, "The rules file now (TOML)")->required();
  diff_->add_option("new", file_, "The proposed rules file (TOML)")->required();
  diff_->footer(
      "Rules added, removed or changed (points, expiry, description), the score\n"
      "settings (base, min, max, clock, retain) and the tiers. To see what a change\n"
      "would do to the subjects a daemon holds: `tally rules impact NEW`.\n\n"
      "Exit codes: 0 the same; 1 different; 3 a file refused; 2 a file cannot be read.\n\n"
      "Example:\n"
      "  tally rules diff config/rules/demerit-uk.toml config/rules/demerit-uk-new-driver.toml");

  impact_ = rules->add_subcommand(
      "impact",
      "What a proposed rules file would do to every subject tallyd holds (nothing "
      "changes)");
  impact_->add_option("file", impact_options_.file, "The proposed rules file (TOML)")->required();
  impact_->add_option("--at", impact_options_.at,
                      "Score at this time (RFC 3339); default now on tallyd's clock");
  impact_->add_option("--top", impact_options_.top, "How many of the largest changes to list")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  impact_->add_option("--csv", impact_options_.csv,
                      "Also write every changed subject (subject, scores and tiers now and "
                      "proposed) to this CSV file");
  impact_
      ->add_option("--wait", impact_options_.wait_s,
                   "Seconds to wait for the answer (a large population takes a while)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  impact_->footer(
      "Every stored, unrevoked event is scored with the proposal's points and expiry for its\n"
      "type, and the proposal's base, clamp and tiers, as if it had always been in force; a\n"
      "type the proposal does not name counts 0. \"Now\" is the live score. The live scores,\n"
      "rules and journal do not change: `tally reload` is how a change goes live, and a\n"
      "reload is not retroactive (events keep the points they were accepted with).\n"
      "tallyd runs it on its workers in slices while ingest and queries go on.\n\n"
      "Prints: subjects scored and changed; the tier transition matrix; the distribution of\n"
      "score changes; the largest changes with the event types behind them; per event type,\n"
      "events and points now and under the proposal. --json prints tallyd's answer.\n\n"
      "Exit codes: 0 answered; 1 refused (rules_refused with file, line and reason; busy\n"
      "while another impact or a worker-count change runs); 2 no answer, or bad input.\n\n"
      "Example:\n"
      "  tally rules impact config/rules/demerit-uk-new-driver.toml --top 20 --csv changed.csv");
}

int RulesCommand::run(const ClientOptions& options) const {
  if (diff_->parsed()) return diff();
  if (impact_->parsed()) {
    zmq::context_t context(1);
    return run_impact(context, options, impact_options_);
  }
  return check();
}

int RulesCommand::check() const {
  const auto loaded = load(file_);
  if (const int* code = std::get_if<int>(&loaded)) return *code;
  print_rule_set(*std::get<std::shared_ptr<const scorer::RuleSet>>(loaded));
  return kExitDone;
}

int RulesCommand::diff() const {
  const auto before = load(old_file_);
  if (const int* code = std::get_if<int>(&before)) return *code;
  const auto after = load(file_);
  if (const int* code = std::get_if<int>(&after)) return *code;
  const scorer::RulesDiff diff =
      scorer::diff_rules(*std::get<std::shared_ptr<const scorer::RuleSet>>(before),
                         *std::get<std::shared_ptr<const scorer::RuleSet>>(after));
  if (diff.empty()) {
    fmt::print("{} and {}: the same rules, score settings and tiers\n", old_file_, file_);
    return kExitDone;
  }
  fmt::print("{} -> {}:\n", old_file_, file_);
  const auto& after_set = *std::get<std::shared_ptr<const scorer::RuleSet>>(after);
  const auto& before_set = *std::get<std::shared_ptr<const scorer::RuleSet>>(before);
  std::vector<scorer::RulesDiff::Change> rules = diff.rules;
  for (const std::string& name : diff.added) {
    rules.push_back({name + " (added)", "", scorer::describe_terms(*after_set.find(name))});
  }
  for (const std::string& name : diff.removed) {
    rules.push_back({name + " (removed)", scorer::describe_terms(*before_set.find(name)), ""});
  }
  print_changes("rules", rules);
  print_changes("score", diff.score);
  print_changes("tiers", diff.tiers);
  return kExitError;
}

}  // namespace tally::cli
