#include "adapters/mapping_spec.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <initializer_list>

namespace tally::adapters {
namespace {

// A refusal at `node`: "line N: what" when the node has a place in the text.
Status refuse(const toml::node* node, std::string_view what) {
  if (node != nullptr && node->source().begin.line > 0) {
    return Status::invalid_argument(fmt::format("line {}: {}", node->source().begin.line, what));
  }
  return Status::invalid_argument(std::string(what));
}

Result<std::string> string_at(const toml::table& table, std::string_view key,
                              std::string_view where, bool required) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (required) return Status::invalid_argument(fmt::format("[{}] needs {}", where, key));
    return std::string();
  }
  const auto text = node->value<std::string>();
  if (!text) return refuse(node, fmt::format("[{}] {} must be a string", where, key));
  return *text;
}

Result<std::vector<std::string>> string_list(const toml::node* node, std::string_view what) {
  std::vector<std::string> out;
  if (node == nullptr) return out;
  const auto* array = node->as_array();
  if (array == nullptr) return refuse(node, fmt::format("{} must be a list of strings", what));
  for (const auto& item : *array) {
    const auto text = item.value<std::string>();
    if (!text) return refuse(&item, fmt::format("{} must be a list of strings", what));
    out.push_back(*text);
  }
  return out;
}

// The list's values, trimmed and in lower case (how decisions and codes compare).
Result<std::vector<std::string>> lower_list(const toml::node* node, std::string_view what) {
  Result<std::vector<std::string>> list = string_list(node, what);
  if (list) {
    for (std::string& value : *list) value = lower_trimmed(value);
  }
  return list;
}

Status check_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                  std::string_view where) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      std::string list;
      for (const auto name : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
      return refuse(&node,
                    fmt::format("unknown key \"{}\" in [{}] (known: {})", key.str(), where, list));
    }
  }
  return Status::ok();
}

// The section `name` of the root; null when absent.
Result<const toml::table*> section(const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  if (!node->is_table()) return refuse(node, fmt::format("[{}] must be a table", name));
  return node->as_table();
}

// A template at table[key], compiled; an absent optional one renders nothing.
Result<FieldTemplate> template_at(const toml::table& table, std::string_view key,
                                  std::string_view where, bool required, FieldNames& names) {
  const Result<std::string> text = string_at(table, key, where, required);
  if (!text) return text.status();
  Result<FieldTemplate> compiled = FieldTemplate::compile(*text, names);
  if (!compiled) return refuse(table.get(key), compiled.status().message());
  return compiled;
}

// A time format at table[key]; rfc3339 when absent.
Result<TimeFormat> time_format_at(const toml::table& table, std::string_view key,
                                  std::string_view where) {
  const Result<std::string> text = string_at(table, key, where, false);
  if (!text) return text.status();
  Result<TimeFormat> format = TimeFormat::parse(text->empty() ? "rfc3339" : *text);
  if (!format) return refuse(table.get(key), format.status().message());
  return format;
}

// The field a required string at table[key] names.
Result<int> field_at(const toml::table& table, std::string_view key, std::string_view where,
                     FieldNames& names) {
  const Result<std::string> name = string_at(table, key, where, true);
  if (!name) return name.status();
  const Result<int> field = names.index_of(*name);
  if (!field) return refuse(table.get(key), field.status().message());
  return field;
}

Status read_input(const toml::table& input, MappingSpec& spec) {
  if (Status keys = check_keys(input, {"format", "delimiter"}, "input"); !keys) return keys;
  const Result<std::string> format = string_at(input, "format", "input", false);
  if (!format) return format.status();
  if (*format == "csv") {
    spec.format = InputFormat::kCsv;
  } else if (*format == "json") {
    spec.format = InputFormat::kJson;
  } else if (!format->empty() && *format != "auto") {
    return refuse(input.get("format"), "[input] format must be \"csv\", \"json\" or \"auto\"");
  }
  const Result<std::string> delimiter = string_at(input, "delimiter", "input", false);
  if (!delimiter) return delimiter.status();
  if (delimiter->size() > 1 || *delimiter == "\"") {
    return refuse(input.get("delimiter"), "[input] delimiter must be one character, not a quote");
  }
  if (!delimiter->empty()) spec.delimiter = (*delimiter)[0];
  return Status::ok();
}

// [event] but its type, which needs [speed] read first.
Status read_event(const toml::table& event, MappingSpec& spec) {
  if (Status keys = check_keys(event,
                               {"subject", "id", "type", "time", "time_format", "time_zone",
                                "source", "attrs", "attrs_exclude", "unmapped_types"},
                               "event");
      !keys) {
    return keys;
  }
  for (auto [key, target] : {std::pair{"subject", &spec.subject}, std::pair{"id", &spec.id},
                             std::pair{"time", &spec.time}}) {
    Result<FieldTemplate> compiled = template_at(event, key, "event", true, spec.fields);
    if (!compiled) return compiled.status();
    *target = std::move(*compiled);
  }
  Result<TimeFormat> format = time_format_at(event, "time_format", "event");
  if (!format) return format.status();
  spec.time_format = std::move(*format);
  const Result<std::string> zone = string_at(event, "time_zone", "event", false);
  if (!zone) return zone.status();
  if (!zone->empty()) {
    Result<TimeZone> named = TimeZone::named(*zone);
    if (!named) return refuse(event.get("time_zone"), named.status().message());
    spec.zone = std::move(*named);
  }
  Result<FieldTemplate> source = template_at(event, "source", "event", false, spec.fields);
  if (!source) return source.status();
  spec.source = std::move(*source);
  if (const toml::node* attrs = event.get("attrs")) {
    if (attrs->is_array()) {
      spec.attrs = MappingSpec::Attrs::kList;
      const Result<std::vector<std::string>> names = string_list(attrs, "[event] attrs");
      if (!names) return names.status();
      for (const std::string& name : *names) {
        const Result<int> field = spec.fields.index_of(name);
        if (!field) return refuse(attrs, field.status().message());
        spec.attr_fields.push_back(*field);
      }
    } else if (attrs->value<std::string>() == "none") {
      spec.attrs = MappingSpec::Attrs::kNone;
    } else if (attrs->value<std::string>() != "rest") {
      return refuse(attrs, "[event] attrs must be \"rest\", \"none\" or a list of fields");
    }
  }
  const Result<std::vector<std::string>> excluded =
      string_list(event.get("attrs_exclude"), "[event] attrs_exclude");
  if (!excluded) return excluded.status();
  for (const std::string& name : *excluded) spec.attrs_exclude.push_back(field_key(name));
  const Result<std::string> unmapped = string_at(event, "unmapped_types", "event", false);
  if (!unmapped) return unmapped.status();
  if (!unmapped->empty() && *unmapped != "reject" && *unmapped != "keep") {
    return refuse(event.get("unmapped_types"),
                  "[event] unmapped_types must be \"reject\" or \"keep\"");
  }
  spec.keep_unmapped_types = *unmapped == "keep";
  return Status::ok();
}

Status read_types(const toml::table& types, MappingSpec& spec) {
  for (const auto& [key, node] : types) {
    const auto rule = node.value<std::string>();
    if (!rule || rule->empty()) return refuse(&node, "[types] values must be rule names (strings)");
    spec.types.emplace(std::string(key.str()), *rule);
  }
  return Status::ok();
}

Status read_speed(const toml::table& table, MappingSpec& spec) {
  if (Status keys =
          check_keys(table, {"measured", "limit", "by", "code_field", "codes", "bands"}, "speed");
      !keys) {
    return keys;
  }
  SpeedBands speed;
  const Result<int> measured = field_at(table, "measured", "speed", spec.fields);
  if (!measured) return measured.status();
  speed.measured_field = *measured;
  const Result<int> limit = field_at(table, "limit", "speed", spec.fields);
  if (!limit) return limit.status();
  speed.limit_field = *limit;
  const Result<std::string> by = string_at(table, "by", "speed", false);
  if (!by) return by.status();
  if (!by->empty() && *by != "excess" && *by != "percent") {
    return refuse(table.get("by"), "[speed] by must be \"excess\" or \"percent\"");
  }
  speed.by_percent = *by == "percent";
  const Result<std::string> code_field = string_at(table, "code_field", "speed", false);
  if (!code_field) return code_field.status();
  if (!code_field->empty()) {
    const Result<int> code = field_at(table, "code_field", "speed", spec.fields);
    if (!code) return code.status();
    speed.code_field = *code;
  }
  Result<std::vector<std::string>> codes = lower_list(table.get("codes"), "[speed] codes");
  if (!codes) return codes.status();
  speed.codes = std::move(*codes);
  const auto* bands = table.get_as<toml::array>("bands");
  if (bands == nullptr || bands->empty()) {
    return refuse(&table, "[speed] needs bands = [{ over = N, type = \"rule\" }, ...]");
  }
  for (const auto& item : *bands) {
    const auto* band = item.as_table();
    const auto over = band != nullptr ? band->get("over") : nullptr;
    const auto type = band != nullptr ? band->get_as<std::string>("type") : nullptr;
    if (over == nullptr || !over->is_number() || type == nullptr) {
      return refuse(&item, "[speed] each band is { over = N, type = \"rule\" }");
    }
    const double from = over->is_integer() ? static_cast<double>(over->as_integer()->get())
                                           : over->as_floating_point()->get();
    if (!speed.bands.empty() && from <= speed.bands.back().over) {
      return refuse(&item, "[speed] bands must be in increasing order of `over`");
    }
    speed.bands.push_back({from, type->get()});
  }
  spec.speed = std::move(speed);
  return Status::ok();
}

Status read_decision(const toml::table& table, MappingSpec& spec) {
  if (Status keys = check_keys(table,
                               {"field", "upheld", "quashed", "ignore", "other", "revoke_suffix",
                                "revoke_time", "revoke_time_format"},
                               "decision");
      !keys) {
    return keys;
  }
  DecisionRule rule;
  const Result<int> field = field_at(table, "field", "decision", spec.fields);
  if (!field) return field.status();
  rule.field = *field;
  for (auto [key, target] : {std::pair{"upheld", &rule.upheld}, std::pair{"quashed", &rule.quashed},
                             std::pair{"ignore", &rule.ignored}}) {
    Result<std::vector<std::string>> values =
        lower_list(table.get(key), fmt::format("[decision] {}", key));
    if (!values) return values.status();
    *target = std::move(*values);
  }
  if (rule.upheld.empty() || rule.quashed.empty()) {
    return Status::invalid_argument("[decision] needs upheld = [...] and quashed = [...]");
  }
  const Result<std::string> other = string_at(table, "other", "decision", false);
  if (!other) return other.status();
  if (!other->empty() && *other != "reject" && *other != "skip") {
    return refuse(table.get("other"), "[decision] other must be \"reject\" or \"skip\"");
  }
  rule.skip_other = *other == "skip";
  if (table.get("revoke_suffix") != nullptr) {
    const Result<std::string> suffix = string_at(table, "revoke_suffix", "decision", true);
    if (!suffix) return suffix.status();
    if (suffix->empty()) {
      return refuse(table.get("revoke_suffix"), "[decision] revoke_suffix must not be empty");
    }
    rule.revoke_suffix = *suffix;
  }
  Result<FieldTemplate> time = template_at(table, "revoke_time", "decision", false, spec.fields);
  if (!time) return time.status();
  rule.revoke_time = std::move(*time);
  Result<TimeFormat> format = time_format_at(table, "revoke_time_format", "decision");
  if (!format) return format.status();
  rule.revoke_time_format = std::move(*format);
  spec.decision = std::move(rule);
  return Status::ok();
}

Status read_spec(const toml::table& root, MappingSpec& spec) {
  if (Status keys = check_keys(
          root, {"name", "description", "input", "event", "types", "speed", "decision"}, "");
      !keys) {
    return keys;
  }
  const Result<const toml::table*> input = section(root, "input");
  if (!input) return input.status();
  if (*input != nullptr) {
    if (Status read = read_input(**input, spec); !read) return read;
  }
  const Result<const toml::table*> event = section(root, "event");
  if (!event) return event.status();
  if (*event == nullptr) return Status::invalid_argument("a mapping needs an [event] section");
  if (Status read = read_event(**event, spec); !read) return read;
  const Result<const toml::table*> types = section(root, "types");
  if (!types) return types.status();
  if (*types != nullptr) {
    if (Status read = read_types(**types, spec); !read) return read;
  }
  const Result<const toml::table*> speed = section(root, "speed");
  if (!speed) return speed.status();
  if (*speed != nullptr) {
    if (Status read = read_speed(**speed, spec); !read) return read;
  }
  if ((*event)->get("type") != nullptr) {
    Result<FieldTemplate> type = template_at(**event, "type", "event", true, spec.fields);
    if (!type) return type.status();
    spec.type = std::move(*type);
  } else if (!spec.speed) {
    return Status::invalid_argument("[event] needs type (or a [speed] section)");
  } else if (spec.speed->code_field >= 0) {
    return Status::invalid_argument(
        "[speed] with code_field needs [event] type for the other records");
  }
  const Result<const toml::table*> decision = section(root, "decision");
  if (!decision) return decision.status();
  if (*decision != nullptr) {
    if (Status read = read_decision(**decision, spec); !read) return read;
  }
  return Status::ok();
}

}  // namespace

Result<MappingSpec> MappingSpec::parse(std::string_view toml, const std::string& origin) {
  MappingSpec spec;
  spec.origin = origin;
  toml::table root;
  try {
    root = toml::parse(toml, origin);
  } catch (const toml::parse_error& bad) {
    // toml++ reports a syntax error only by throwing: turned into a Status here.
    return Status::invalid_argument(
        fmt::format("{}: line {}: {}", origin, bad.source().begin.line, bad.description()));
  }
  if (Status read = read_spec(root, spec); !read) {
    return Status::invalid_argument(fmt::format("{}: {}", origin, read.message()));
  }
  return spec;
}

}  // namespace tally::adapters
