#include "adapters/decisions.h"

#include <algorithm>

namespace tally::adapters {

DecisionRule::Verdict DecisionRule::decide(std::string_view value) const {
  const std::string decision = lower_trimmed(value);
  const auto in = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), decision) != list.end();
  };
  if (in(quashed)) return Verdict::kQuashed;
  if (in(upheld)) return Verdict::kUpheld;
  return in(ignored) || skip_other ? Verdict::kNotADecision : Verdict::kUnknown;
}

}  // namespace tally::adapters
