// `tally rules check FILE`: loads a rules file as tallyd would and prints its
// rules, score settings and tiers, so that a change can be reviewed before a
// reload. `tally rules diff OLD NEW`: what changes between two files. No
// daemon needed for either. `tally rules impact NEW` asks the running
// tallyd what the file would do to every subject (rules_impact.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "apps/tally/client_options.h"
#include "apps/tally/rules_impact.h"

namespace tally::cli {

class RulesCommand {
 public:
  // Registers `rules check|diff|impact` on `app`; binds their flags to this
  // object, which must outlive parsing and stay where it is.
  explicit RulesCommand(CLI::App& app);
  RulesCommand(const RulesCommand&) = delete;
  RulesCommand& operator=(const RulesCommand&) = delete;

  bool parsed() const { return check_->parsed() || diff_->parsed() || impact_->parsed(); }
  // Returns the exit code. check: 0 valid; 3 refused (FILE:LINE:COLUMN:
  // REASON on stderr); 2 the file cannot be read. diff: 0 the same, 1
  // different, 3 a file refused, 2 unreadable. impact: run_impact's.
  int run(const ClientOptions& options) const;

 private:
  int check() const;
  int diff() const;

  CLI::App* check_;
  CLI::App* diff_;
  CLI::App* impact_;
  std::string file_;
  std::string old_file_;
  ImpactOptions impact_options_;
};

}  // namespace tally::cli
