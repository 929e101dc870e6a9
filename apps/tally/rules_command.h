// `tally rules check FILE`: loads a rules file as tallyd would and prints its
// rules, score settings and tiers, so that a change can be reviewed before a
// reload. No daemon needed.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tally::cli {

class RulesCommand {
 public:
  // Registers `rules check` on `app`; binds its flags to this object, which
  // must outlive parsing and stay where it is.
  explicit RulesCommand(CLI::App& app);
  RulesCommand(const RulesCommand&) = delete;
  RulesCommand& operator=(const RulesCommand&) = delete;

  bool parsed() const { return check_->parsed(); }
  // Returns the exit code: 0 valid; 3 refused (FILE:LINE:COLUMN: REASON on
  // stderr); 2 the file cannot be read.
  int run() const;

 private:
  CLI::App* check_;
  std::string file_;
};

}  // namespace tally::cli
