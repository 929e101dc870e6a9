// What changes between two rule sets: rules added, removed or changed
// (points, expiry, description), the score settings, and the tiers.
// `tally rules diff` prints it; the impact of a proposed file
// (scorer/rules_impact.h) flags types that only one of the two sets knows.
//
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <vector>

#include "scorer/rules.h"

namespace tally::scorer {

struct RulesDiff {
  struct Change {
    std::string what;    // a rule's name, "score.base", "tier warning", ...
    std::string before;  // "" when added
    std::string after;   // "" when removed
  };
  std::vector<std::string> added;    // rule names, in the new file's order
  std::vector<std::string> removed;  // rule names, in the old file's order
  std::vector<Change> rules;         // rules in both whose terms changed
  std::vector<Change> score;         // base, min, max, clock, retain
  std::vector<Change> tiers;         // tiers added, removed or moved

  bool empty() const noexcept {
    return added.empty() && removed.empty() && rules.empty() && score.empty() && tiers.empty();
  }
};

RulesDiff diff_rules(const RuleSet& before, const RuleSet& after);

// A rule's terms in words: "3 points, expires after 540d" (or "never expires").
std::string describe_terms(const Rule& rule);

}  // namespace tally::scorer
