#include "scorer/rules_diff.h"

#include <fmt/format.h>

namespace tally::scorer {
namespace {

std::string clock_name(Clock clock) { return clock == Clock::kEvent ? "event" : "wall"; }

template <typename T>
void compare(std::vector<RulesDiff::Change>& out, const char* what, const T& before,
             const T& after) {
  if (before != after) out.push_back({what, fmt::format("{}", before), fmt::format("{}", after)});
}

const Tier* tier_named(const RuleSet& rules, const std::string& name) {
  for (const Tier& tier : rules.tiers()) {
    if (tier.name == name) return &tier;
  }
  return nullptr;
}

}  // namespace

std::string describe_terms(const Rule& rule) {
  const std::string expiry = rule.expires_after_ms == kNever
                                 ? "never expires"
                                 : "expires after " + format_duration(rule.expires_after_ms);
  return fmt::format("{} points, {}", rule.points, expiry);
}

RulesDiff diff_rules(const RuleSet& before, const RuleSet& after) {
  RulesDiff diff;
  for (const Rule& rule : after.rules()) {
    const Rule* old = before.find(rule.name);
    if (old == nullptr || old->is_revoke) {
      diff.added.push_back(rule.name);
      continue;
    }
    if (old->points != rule.points || old->expires_after_ms != rule.expires_after_ms) {
      diff.rules.push_back({rule.name, describe_terms(*old), describe_terms(rule)});
    }
    if (old->description != rule.description) {
      diff.rules.push_back({rule.name + " (description)", old->description, rule.description});
    }
  }
  for (const Rule& rule : before.rules()) {
    const Rule* now = after.find(rule.name);
    if (now == nullptr || now->is_revoke) diff.removed.push_back(rule.name);
  }
  const ScoreConfig& a = before.score();
  const ScoreConfig& b = after.score();
  compare(diff.score, "base", a.base, b.base);
  compare(diff.score, "min", format_bound(a.min), format_bound(b.min));
  compare(diff.score, "max", format_bound(a.max), format_bound(b.max));
  compare(diff.score, "clock", clock_name(a.clock), clock_name(b.clock));
  compare(diff.score, "retain", format_duration(a.retain_ms), format_duration(b.retain_ms));
  for (const Tier& tier : after.tiers()) {
    const Tier* old = tier_named(before, tier.name);
    if (old == nullptr) {
      diff.tiers.push_back({tier.name, "", fmt::format("from {}", tier.min)});
    } else if (old->min != tier.min) {
      diff.tiers.push_back(
          {tier.name, fmt::format("from {}", old->min), fmt::format("from {}", tier.min)});
    }
  }
  for (const Tier& tier : before.tiers()) {
    if (tier_named(after, tier.name) == nullptr) {
      diff.tiers.push_back({tier.name, fmt::format("from {}", tier.min), ""});
    }
  }
  return diff;
}

}  // namespace tally::scorer
