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

Status refusal(std::string_view file, const toml::node& node, std::string reason) {
  const toml::source_position& where = node.source().begin;
  return Status::invalid_at({std::string(file), static_cast<std::uint32_t>(where.line),
                             static_cast<std::uint32_t>(where.column)},
                            std::move(reason));
}

// TOML text -> a table, or the parse error at its place. The one try/catch of
// this file: Debian's toml++ is a shared library built with exceptions (it
// exports only toml::ex::parse), so its no-throw parse_result API cannot be
// used; the exception is caught at the call and becomes a Status at once.
Result<toml::table> parse_toml(std::string_view text, std::string_view file) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    const toml::source_position& where = error.source().begin;
    return Status::invalid_at({std::string(file), static_cast<std::uint32_t>(where.line),
                               static_cast<std::uint32_t>(where.column)},
                              std::string(error.description()));
  }
}

bool valid_rule_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Status check_known_keys(std::string_view file, const toml::table& table,
                        std::initializer_list<std::string_view> known, std::string_view where) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      return refusal(file, node,
                     fmt::format("unknown key `{}` in {} (known: {})", key.str(), where,
                                 fmt::join(known, ", ")));
    }
  }
  return Status::ok();
}

Result<std::int64_t> integer(std::string_view file, const toml::node& node, std::string_view what) {
  const auto* value = node.as_integer();
  if (value == nullptr) return refusal(file, node, fmt::format("`{}` must be an integer", what));
  return value->get();
}

Result<std::int64_t> duration(std::string_view file, const toml::node& node,
                              std::string_view what) {
  const auto* value = node.as_string();
  const Result<std::int64_t> ms =
      value != nullptr ? parse_duration_ms(value->get()) : Result<std::int64_t>(0);
  if (!ms || *ms <= 0) {
    return refusal(file, node,
                   fmt::format("`{}` must be a duration such as \"540d\" (a positive whole number "
                               "and one of the units s, m, h, d, w)",
                               what));
  }
  return ms;
}

// Sets `target` from table[key], when the key is there.
template <typename Read>
Status read_optional(const toml::table& table, std::string_view key, std::int64_t& target,
                     Read read) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::ok();
  Result<std::int64_t> value = read(*node, key);
  if (!value) return value.status();
  target = *value;
  return Status::ok();
}

Status parse_score(std::string_view file, const toml::node& node, ScoreConfig& score) {
  const auto* table = node.as_table();
  if (table == nullptr) return refusal(file, node, "`score` must be a table");
  if (Status known =
          check_known_keys(file, *table, {"base", "min", "max", "clock", "retain"}, "[score]");
      !known) {
    return known;
  }
  // Bounded so that a score (base plus 32-bit points, clamped) can never
  // overflow 64 bits.
  constexpr std::int64_t kLimit = 1'000'000'000'000'000;
  const auto as_integer = [&](const toml::node& value, std::string_view what) {
    Result<std::int64_t> read = integer(file, value, what);
    if (read && (*read > kLimit || *read < -kLimit)) {
      return Result<std::int64_t>(
          refusal(file, value, fmt::format("`{}` must be within -1e15 and 1e15", what)));
    }
    return read;
  };
  const auto as_duration = [&](const toml::node& value, std::string_view what) {
    return duration(file, value, what);
  };
  // All are read (a braced list is evaluated in order); the first refusal is
  // the answer.
  for (Status read : {read_optional(*table, "base", score.base, as_integer),
                      read_optional(*table, "min", score.min, as_integer),
                      read_optional(*table, "max", score.max, as_integer),
                      read_optional(*table, "retain", score.retain_ms, as_duration)}) {
    if (!read) return read;
  }
  if (const auto* v = table->get("clock")) {
    const auto* clock = v->as_string();
    if (clock != nullptr && clock->get() == "wall") {
      score.clock = Clock::kWall;
    } else if (clock != nullptr && clock->get() == "event") {
      score.clock = Clock::kEvent;
    } else {
      return refusal(file, *v, "`clock` must be \"wall\" or \"event\"");
    }
  }
  if (score.min > score.max) return refusal(file, node, "`min` is greater than `max`");
  if (score.base < score.min || score.base > score.max) {
    return refusal(file, node, "`base` lies outside [min, max]");
  }
  return Status::ok();
}

// One [rules.<name>] table into `rule`.
Status parse_rule(std::string_view file, const std::string& name, const toml::node& node,
                  Rule& rule) {
  if (name == RuleSet::kRevokeType) {
    return refusal(file, node, "`revoke` is built in and cannot be redefined");
  }
  if (!valid_rule_name(name)) {
    return refusal(
        file, node,
        fmt::format("rule name `{}`: use lower-case letters, digits and `_` only", name));
  }
  const auto* table = node.as_table();
  if (table == nullptr) return refusal(file, node, fmt::format("`rules.{}` must be a table", name));
  if (Status known = check_known_keys(file, *table, {"points", "expires_after", "description"},
                                      fmt::format("[rules.{}]", name));
      !known) {
    return known;
  }
  rule.name = name;
  const auto* points = table->get("points");
  if (points == nullptr) return refusal(file, node, fmt::format("rule `{}` has no `points`", name));
  const Result<std::int64_t> value = integer(file, *points, "points");
  if (!value) return value.status();
  if (*value < std::numeric_limits<std::int32_t>::min() ||
      *value > std::numeric_limits<std::int32_t>::max()) {
    return refusal(file, *points, "`points` is out of range (32-bit)");
  }
  rule.points = static_cast<std::int32_t>(*value);
  if (const auto* v = table->get("expires_after")) {
    const Result<std::int64_t> expires_after = duration(file, *v, "expires_after");
    if (!expires_after) return expires_after.status();
    rule.expires_after_ms = *expires_after;
  }
  if (const auto* v = table->get("description")) {
    const auto* text = v->as_string();
    if (text == nullptr) return refusal(file, *v, "`description` must be a string");
    rule.description = text->get();
  }
  return Status::ok();
}

// [[tier]] tables into `tiers`, sorted by min.
Status parse_tiers(std::string_view file, const toml::node& node, std::vector<Tier>& tiers) {
  const auto* array = node.as_array();
  if (array == nullptr) return refusal(file, node, "`tier` must be an array: use [[tier]]");
  for (const auto& element : *array) {
    const auto* table = element.as_table();
    if (table == nullptr) return refusal(file, element, "each [[tier]] must be a table");
    if (Status known = check_known_keys(file, *table, {"name", "min"}, "[[tier]]"); !known) {
      return known;
    }
    const auto* name = table->get("name");
    const auto* min = table->get("min");
    if (name == nullptr || name->as_string() == nullptr || name->as_string()->get().empty()) {
      return refusal(file, element, "a tier needs a non-empty string `name`");
    }
    if (name->as_string()->get().size() > kMaxTierNameBytes) {
      return refusal(file, *name,
                     fmt::format("a tier name is at most {} bytes (it travels in every alert)",
                                 kMaxTierNameBytes));
    }
    if (min == nullptr) return refusal(file, element, "a tier needs a `min`");
    const Result<std::int64_t> min_value = integer(file, *min, "min");
    if (!min_value) return min_value.status();
    Tier tier{name->as_string()->get(), *min_value};
    for (const Tier& other : tiers) {
      if (other.name == tier.name) {
        return refusal(file, *name, fmt::format("duplicate tier name `{}`", tier.name));
      }
      if (other.min == tier.min) {
        return refusal(file, *min,
                       fmt::format("tiers `{}` and `{}` have the same min {}", other.name,
                                   tier.name, tier.min));
      }
    }
    tiers.push_back(std::move(tier));
  }
  std::sort(tiers.begin(), tiers.end(), [](const Tier& a, const Tier& b) { return a.min < b.min; });
  return Status::ok();
}

}  // namespace

const EventTypeTerms* RuleSet::resolve(std::string_view type) const noexcept { return find(type); }

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

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  const auto refused = [&] {
    return Status::invalid_argument(
        fmt::format("`{}` is not a duration (a whole number and one of the units s, m, h, d, w, "
                    "e.g. \"540d\")",
                    text));
  };
  if (text.size() < 2) return refused();
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
      return refused();
  }
  std::int64_t amount = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return refused();
    amount = amount * 10 + (c - '0');
    if (amount > 1'000'000'000) return refused();  // beyond any sane retention; avoids overflow
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

Result<std::shared_ptr<const RuleSet>> parse_rules(std::string_view toml_text,
                                                   std::string_view file_name,
                                                   std::uint32_t version) {
  auto rules = std::make_shared<RuleSet>();
  rules->version_ = version;
  rules->source_ = std::string(file_name);
  rules->revoke_.is_revoke = true;
  rules->revoke_.name = std::string(RuleSet::kRevokeType);
  rules->revoke_.description = "Cancels an earlier event (appeal upheld, misread)";
  rules->revoke_.rules_version = version;

  Result<toml::table> parsed = parse_toml(toml_text, file_name);
  if (!parsed) return parsed.status();
  const toml::table& root = *parsed;
  if (Status known =
          check_known_keys(file_name, root, {"score", "rules", "tier"}, "the rules file");
      !known) {
    return known;
  }
  if (const auto* node = root.get("score")) {
    if (Status score = parse_score(file_name, *node, rules->score_); !score) return score;
  }

  const auto* rules_node = root.get("rules");
  if (rules_node == nullptr) {
    return Status::invalid_at(
        {std::string(file_name), 0, 0},
        "no [rules.<type>] table: a rules file must define at least one rule");
  }
  const auto* rule_tables = rules_node->as_table();
  if (rule_tables == nullptr) return refusal(file_name, *rules_node, "`rules` must be a table");
  // toml++ keeps a table's keys sorted by name; rules() promises file order
  // (what `tally rules check` shows a reviewer), so order them by position.
  std::vector<std::pair<std::string_view, const toml::node*>> in_file_order;
  for (const auto& [key, node] : *rule_tables) in_file_order.emplace_back(key.str(), &node);
  std::stable_sort(in_file_order.begin(), in_file_order.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  for (const auto& [key, node] : in_file_order) {
    Rule& rule = rules->rules_.emplace_back();
    rule.rules_version = version;
    if (Status parsed_rule = parse_rule(file_name, std::string(key), *node, rule); !parsed_rule) {
      return parsed_rule;
    }
    rules->by_name_.emplace(rule.name, &rule);
  }

  if (const auto* tiers_node = root.get("tier")) {
    if (Status tiers = parse_tiers(file_name, *tiers_node, rules->tiers_); !tiers) return tiers;
  }
  return std::shared_ptr<const RuleSet>(std::move(rules));
}

Result<std::shared_ptr<const RuleSet>> load_rules_file(const std::string& path,
                                                       std::uint32_t version) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::invalid_at({path, 0, 0}, fmt::format("cannot read: {}", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_rules(text.str(), path, version);
}

std::string format_bound(std::int64_t value) {
  return value == std::numeric_limits<std::int64_t>::min() ||
                 value == std::numeric_limits<std::int64_t>::max()
             ? "none"
             : std::to_string(value);
}

}  // namespace tally::scorer
