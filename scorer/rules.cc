#include "scorer/rules.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tally::scorer {
namespace {

struct Refusal {
  RulesError error;
};

[[noreturn]] void refuse(std::string_view file, const toml::node& node, std::string reason) {
  throw Refusal{{std::string(file), static_cast<std::uint32_t>(node.source().begin.line),
                 static_cast<std::uint32_t>(node.source().begin.column), std::move(reason)}};
}

bool valid_rule_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

void refuse_unknown_keys(std::string_view file, const toml::table& table,
                         std::initializer_list<std::string_view> known, std::string_view where) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      refuse(file, node,
             fmt::format("unknown key `{}` in {} (known: {})", key.str(), where,
                         fmt::join(known, ", ")));
    }
  }
}

std::int64_t integer(std::string_view file, const toml::node& node, std::string_view what) {
  const auto* value = node.as_integer();
  if (value == nullptr) refuse(file, node, fmt::format("`{}` must be an integer", what));
  return value->get();
}

std::int64_t duration(std::string_view file, const toml::node& node, std::string_view what) {
  const auto* value = node.as_string();
  const std::int64_t ms = value != nullptr ? parse_duration_ms(value->get()) : -1;
  if (ms <= 0) {
    refuse(file, node,
           fmt::format("`{}` must be a duration such as \"540d\" (a positive whole number and "
                       "one of the units s, m, h, d, w)",
                       what));
  }
  return ms;
}

}  // namespace

std::string RulesError::to_string() const {
  if (line == 0) return fmt::format("{}: {}", file, reason);
  if (column == 0) return fmt::format("{}:{}: {}", file, line, reason);
  return fmt::format("{}:{}:{}: {}", file, line, column, reason);
}

const stream::EventTypeTerms* RuleSet::resolve(std::string_view type) const noexcept {
  return find(type);
}

const Rule* RuleSet::find(std::string_view type) const noexcept {
  if (type == kRevokeType) return &revoke_;
  // Debian's abseil has its own string_view type: convert for the lookup.
  const auto it = by_name_.find(absl::string_view(type.data(), type.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

std::string_view RuleSet::tier_for(std::int64_t score) const noexcept {
  std::string_view name;
  for (const Tier& tier : tiers_) {
    if (tier.min > score) break;
    name = tier.name;
  }
  return name;
}

std::int64_t RuleSet::clamp(std::int64_t raw) const noexcept {
  return std::clamp(raw, score_.min, score_.max);
}

std::int64_t parse_duration_ms(std::string_view text) noexcept {
  if (text.size() < 2) return -1;
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60 * 1000;
      break;
    case 'h':
      unit_ms = 3600 * 1000;
      break;
    case 'd':
      unit_ms = 86400 * 1000;
      break;
    case 'w':
      unit_ms = 7 * 86400 * 1000LL;
      break;
    default:
      return -1;
  }
  std::int64_t amount = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return -1;
    amount = amount * 10 + (c - '0');
    if (amount > 1'000'000'000) return -1;  // beyond any sane retention; avoids overflow
  }
  return amount * unit_ms;
}

std::string format_duration(std::int64_t ms) {
  static constexpr std::pair<std::int64_t, char> kUnits[] = {
      {7 * 86400 * 1000LL, 'w'}, {86400 * 1000LL, 'd'}, {3600 * 1000LL, 'h'}, {60 * 1000LL, 'm'}};
  for (const auto& [unit, suffix] : kUnits) {
    if (ms > 0 && ms % unit == 0) return fmt::format("{}{}", ms / unit, suffix);
  }
  return fmt::format("{}s", ms / 1000);
}

RulesResult parse_rules(std::string_view toml_text, std::string_view file_name,
                        std::uint32_t version) {
  auto rules = std::make_shared<RuleSet>();
  rules->version_ = version;
  rules->source_ = std::string(file_name);
  rules->revoke_.is_revoke = true;
  rules->revoke_.name = std::string(RuleSet::kRevokeType);
  rules->revoke_.description = "Cancels an earlier event (appeal upheld, misread)";
  rules->revoke_.rules_version = version;
  try {
    toml::table root;
    try {
      root = toml::parse(toml_text, file_name);
    } catch (const toml::parse_error& error) {
      return RulesError{std::string(file_name),
                        static_cast<std::uint32_t>(error.source().begin.line),
                        static_cast<std::uint32_t>(error.source().begin.column),
                        std::string(error.description())};
    }
    refuse_unknown_keys(file_name, root, {"score", "rules", "tier"}, "the rules file");

    ScoreConfig& score = rules->score_;
    if (const auto* node = root.get("score")) {
      const auto* table = node->as_table();
      if (table == nullptr) refuse(file_name, *node, "`score` must be a table");
      refuse_unknown_keys(file_name, *table, {"base", "min", "max", "clock", "retain"}, "[score]");
      if (const auto* v = table->get("base")) score.base = integer(file_name, *v, "base");
      if (const auto* v = table->get("min")) score.min = integer(file_name, *v, "min");
      if (const auto* v = table->get("max")) score.max = integer(file_name, *v, "max");
      if (const auto* v = table->get("retain")) score.retain_ms = duration(file_name, *v, "retain");
      if (const auto* v = table->get("clock")) {
        const auto* clock = v->as_string();
        if (clock != nullptr && clock->get() == "wall") {
          score.clock = Clock::kWall;
        } else if (clock != nullptr && clock->get() == "event") {
          score.clock = Clock::kEvent;
        } else {
          refuse(file_name, *v, "`clock` must be \"wall\" or \"event\"");
        }
      }
      if (score.min > score.max) refuse(file_name, *node, "`min` is greater than `max`");
      if (score.base < score.min || score.base > score.max) {
        refuse(file_name, *node, "`base` lies outside [min, max]");
      }
    }

    const auto* rules_node = root.get("rules");
    if (rules_node == nullptr) {
      return RulesError{std::string(file_name), 0, 0,
                        "no [rules.<type>] table: a rules file must define at least one rule"};
    }
    const auto* rule_tables = rules_node->as_table();
    if (rule_tables == nullptr) refuse(file_name, *rules_node, "`rules` must be a table");
    // toml++ keeps a table's keys sorted by name; rules() promises file order
    // (what `tally rules check` shows a reviewer), so order them by position.
    std::vector<std::pair<std::string_view, const toml::node*>> in_file_order;
    for (const auto& [key, node] : *rule_tables) in_file_order.emplace_back(key.str(), &node);
    std::stable_sort(in_file_order.begin(), in_file_order.end(), [](const auto& a, const auto& b) {
      const auto& x = a.second->source().begin;
      const auto& y = b.second->source().begin;
      return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    for (const auto& [key, node_pointer] : in_file_order) {
      const toml::node& node = *node_pointer;
      const std::string name(key);
      if (name == RuleSet::kRevokeType) {
        refuse(file_name, node, "`revoke` is built in and cannot be redefined");
      }
      if (!valid_rule_name(name)) {
        refuse(file_name, node,
               fmt::format("rule name `{}`: use lower-case letters, digits and `_` only", name));
      }
      const auto* table = node.as_table();
      if (table == nullptr)
        refuse(file_name, node, fmt::format("`rules.{}` must be a table", name));
      refuse_unknown_keys(file_name, *table, {"points", "expires_after", "description"},
                          fmt::format("[rules.{}]", name));
      Rule& rule = rules->rules_.emplace_back();
      rule.name = name;
      rule.rules_version = version;
      const auto* points = table->get("points");
      if (points == nullptr)
        refuse(file_name, node, fmt::format("rule `{}` has no `points`", name));
      const std::int64_t value = integer(file_name, *points, "points");
      if (value < std::numeric_limits<std::int32_t>::min() ||
          value > std::numeric_limits<std::int32_t>::max()) {
        refuse(file_name, *points, "`points` is out of range (32-bit)");
      }
      rule.points = static_cast<std::int32_t>(value);
      if (const auto* v = table->get("expires_after")) {
        rule.expires_after_ms = duration(file_name, *v, "expires_after");
      }
      if (const auto* v = table->get("description")) {
        const auto* text = v->as_string();
        if (text == nullptr) refuse(file_name, *v, "`description` must be a string");
        rule.description = text->get();
      }
      rules->by_name_.emplace(rule.name, &rule);
    }

    if (const auto* tiers_node = root.get("tier")) {
      const auto* tiers = tiers_node->as_array();
      if (tiers == nullptr) refuse(file_name, *tiers_node, "`tier` must be an array: use [[tier]]");
      for (const auto& element : *tiers) {
        const auto* table = element.as_table();
        if (table == nullptr) refuse(file_name, element, "each [[tier]] must be a table");
        refuse_unknown_keys(file_name, *table, {"name", "min"}, "[[tier]]");
        const auto* name = table->get("name");
        const auto* min = table->get("min");
        if (name == nullptr || name->as_string() == nullptr || name->as_string()->get().empty()) {
          refuse(file_name, element, "a tier needs a non-empty string `name`");
        }
        if (min == nullptr) refuse(file_name, element, "a tier needs a `min`");
        Tier tier{name->as_string()->get(), integer(file_name, *min, "min")};
        for (const Tier& other : rules->tiers_) {
          if (other.name == tier.name) {
            refuse(file_name, *name, fmt::format("duplicate tier name `{}`", tier.name));
          }
          if (other.min == tier.min) {
            refuse(file_name, *min,
                   fmt::format("tiers `{}` and `{}` have the same min {}", other.name, tier.name,
                               tier.min));
          }
        }
        rules->tiers_.push_back(std::move(tier));
      }
      std::sort(rules->tiers_.begin(), rules->tiers_.end(),
                [](const Tier& a, const Tier& b) { return a.min < b.min; });
    }
  } catch (const Refusal& refusal) {
    return refusal.error;
  }
  return std::shared_ptr<const RuleSet>(std::move(rules));
}

RulesResult load_rules_file(const std::string& path, std::uint32_t version) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return RulesError{path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno))};
  std::stringstream text;
  text << in.rdbuf();
  return parse_rules(text.str(), path, version);
}

}  // namespace tally::scorer
