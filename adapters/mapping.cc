#include "adapters/mapping.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "adapters/byte_source.h"
#include "adapters/pseudonymiser.h"
#include "stream/event.h"
#include "stream/event_time.h"
#include "stream/json_text.h"

namespace tally::adapters {

std::string_view record_issue_name(RecordIssue issue) noexcept {
  switch (issue) {
    case RecordIssue::kNone:
      return "none";
    case RecordIssue::kCsvBadQuote:
      return "csv_bad_quote";
    case RecordIssue::kCsvUnterminated:
      return "csv_unterminated";
    case RecordIssue::kCsvColumnCount:
      return "csv_column_count";
    case RecordIssue::kMalformedJson:
      return "malformed_json";
    case RecordIssue::kNotAnObject:
      return "not_an_object";
    case RecordIssue::kMissingField:
      return "missing_field";
    case RecordIssue::kBadTime:
      return "bad_time";
    case RecordIssue::kUnmappedType:
      return "unmapped_type";
    case RecordIssue::kBadSpeed:
      return "bad_speed";
    case RecordIssue::kUnknownDecision:
      return "unknown_decision";
    case RecordIssue::kOversized:
      return "oversized";
    case RecordIssue::kBelowSpeedBands:
      return "below_speed_bands";
    case RecordIssue::kNotADecision:
      return "not_a_decision";
  }
  return "unknown";
}

bool is_skip(RecordIssue issue) noexcept {
  return issue == RecordIssue::kBelowSpeedBands || issue == RecordIssue::kNotADecision;
}

void append_field_key(std::string& out, std::string_view text) {
  bool pending_separator = false;
  const std::size_t start = out.size();
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= '0' && byte <= '9') || ((byte | 0x20) >= 'a' && (byte | 0x20) <= 'z')) {
      if (pending_separator && out.size() > start) out.push_back('_');
      pending_separator = false;
      out.push_back(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
    } else {
      pending_separator = true;
    }
  }
}

std::string field_key(std::string_view text) {
  std::string out;
  append_field_key(out, text);
  return out;
}

namespace {

// ASCII only, without the C library's locale lookups (a measured hot spot).
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

// True if some byte of `text` needs more than copying into a JSON string:
// a control character, '"', '\\', or a byte >= 0x80 (UTF-8 to validate).
// Eight bytes at a time (the classic "has a zero byte" bit trick): this scan
// was the adapters' largest cost when done byte by byte.
bool needs_json_escape(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, text.data() + i, 8);
    const std::uint64_t special = (v & kHigh) | has_zero(v ^ (kOnes * '"')) |
                                  has_zero(v ^ (kOnes * '\\')) | ((v - kOnes * 0x20) & ~v & kHigh);
    if (special != 0) return true;
  }
  for (; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte >= 0x80 || byte == '"' || byte == '\\') return true;
  }
  return false;
}

// A JSON string literal: plain printable ASCII is copied in one go; anything
// else goes through stream::append_json_string, which escapes and validates.
void append_json(std::string& out, std::string_view text) {
  if (needs_json_escape(text)) {
    stream::append_json_string(out, text);
    return;
  }
  out.push_back('"');
  out.append(text);
  out.push_back('"');
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower_trimmed(std::string_view text) {
  std::string out(trim(text));
  for (char& c : out) c = ascii_lower(c);
  return out;
}

enum class Filter : std::uint8_t { kUpper, kLower, kSlug, kNoSpace };

struct Segment {
  std::string literal;  // when field < 0
  int field = -1;       // index into Impl::fields
  std::vector<Filter> filters;
};

struct Template {
  std::vector<Segment> segments;
  std::string text;  // as written, for messages
  bool empty() const { return segments.empty(); }
};

struct SpeedBand {
  double over = 0;
  std::string type;
};

struct ConfigError {
  std::string message;
};

[[noreturn]] void refuse(const toml::node* node, const std::string& what) {
  if (node != nullptr && node->source().begin.line > 0) {
    throw ConfigError{fmt::format("line {}: {}", node->source().begin.line, what)};
  }
  throw ConfigError{what};
}

}  // namespace

struct Mapping::Impl {
  std::string origin;
  InputFormat format = InputFormat::kAuto;
  char delimiter = ',';

  // Every field a template or section names: normalised key, and as written.
  std::vector<std::string> fields;
  std::vector<std::string> field_names;

  Template subject, id, type, time, source, revoke_time;
  TimeFormat time_format, revoke_time_format;
  TimeZone zone;

  enum class Attrs { kRest, kNone, kList } attrs = Attrs::kRest;
  std::vector<int> attr_fields;            // kList
  std::vector<std::string> attrs_exclude;  // kRest: normalised keys

  std::map<std::string, std::string, std::less<>> types;
  bool keep_unmapped_types = false;

  bool speed = false;
  int measured_field = -1, limit_field = -1, code_field = -1;
  bool by_percent = false;
  std::vector<std::string> speed_codes;  // lower case, trimmed
  std::vector<SpeedBand> bands;          // ascending `over`

  bool decision = false;
  int decision_field = -1;
  std::vector<std::string> upheld, quashed, ignored;  // lower case, trimmed
  bool skip_other_decisions = false;
  std::string revoke_suffix = ":quashed";

  const Pseudonymiser* pseudonymiser = nullptr;

  // Column cache: for records whose keys_version is cached_version, the
  // value index of each field (-1: absent) and which values are used.
  std::uint64_t cached_version = 0;
  std::vector<int> columns;
  std::vector<bool> used;

  // Scratch, reused across records.
  std::string subject_text, id_text, type_text, source_text, scratch;

  int field_index(std::string_view name) {
    std::string key = field_key(name);
    if (key.empty()) throw ConfigError{fmt::format("\"{}\" is not a field name", name)};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i] == key) return static_cast<int>(i);
    }
    fields.push_back(std::move(key));
    field_names.emplace_back(name);
    return static_cast<int>(fields.size() - 1);
  }

  Template compile(std::string_view text, const toml::node* node) {
    Template result;
    result.text = std::string(text);
    std::string literal;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
        literal.push_back(c);
        ++i;
        continue;
      }
      if (c == '}')
        refuse(node, fmt::format("template \"{}\": a lone }} (write }}}} for one)", text));
      if (c != '{') {
        literal.push_back(c);
        continue;
      }
      const auto close = text.find('}', i);
      if (close == std::string_view::npos) {
        refuse(node, fmt::format("template \"{}\": a {{ without its }}", text));
      }
      if (!literal.empty()) result.segments.push_back({std::move(literal), -1, {}});
      literal.clear();
      std::string_view inside = text.substr(i + 1, close - i - 1);
      Segment segment;
      const auto bar = inside.find('|');
      segment.field = field_index(trim(inside.substr(0, bar)));
      while (bar != std::string_view::npos && !inside.empty()) {
        inside = inside.substr(inside.find('|') + 1);
        const auto next = inside.find('|');
        const std::string_view name = trim(inside.substr(0, next));
        if (name == "upper") {
          segment.filters.push_back(Filter::kUpper);
        } else if (name == "lower") {
          segment.filters.push_back(Filter::kLower);
        } else if (name == "slug") {
          segment.filters.push_back(Filter::kSlug);
        } else if (name == "nospace") {
          segment.filters.push_back(Filter::kNoSpace);
        } else {
          refuse(node, fmt::format("template \"{}\": unknown filter \"{}\" (known: upper, lower, "
                                   "slug, nospace)",
                                   text, name));
        }
        if (next == std::string_view::npos) break;
      }
      result.segments.push_back(std::move(segment));
      i = close;
    }
    if (!literal.empty()) result.segments.push_back({std::move(literal), -1, {}});
    return result;
  }

  void resolve_columns(const SourceRecord& record) {
    if (record.keys_version != 0 && record.keys_version == cached_version) return;
    cached_version = record.keys_version;
    const auto& keys = *record.keys;
    columns.assign(fields.size(), -1);
    for (std::size_t f = 0; f < fields.size(); ++f) {
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (keys[k] == fields[f]) {
          columns[f] = static_cast<int>(k);
          break;
        }
      }
    }
    used.assign(keys.size(), false);
    for (const int column : columns) {
      if (column >= 0) used[static_cast<std::size_t>(column)] = true;
    }
    if (attrs == Attrs::kRest) {
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (std::find(attrs_exclude.begin(), attrs_exclude.end(), keys[k]) != attrs_exclude.end()) {
          used[k] = true;
        }
      }
    }
  }

  // The trimmed value of a field; empty if absent.
  std::string_view value(const SourceRecord& record, int field) const {
    const int column = columns[static_cast<std::size_t>(field)];
    if (column < 0 || static_cast<std::size_t>(column) >= record.values->size()) return {};
    return trim((*record.values)[static_cast<std::size_t>(column)]);
  }

  // Renders; false with `result` set if a field is absent or empty.
  bool render(const Template& tmpl, const SourceRecord& record, std::string& out, MapResult& result,
              bool required = true) {
    out.clear();
    for (const Segment& segment : tmpl.segments) {
      if (segment.field < 0) {
        out.append(segment.literal);
        continue;
      }
      const std::string_view text = value(record, segment.field);
      if (text.empty()) {
        if (!required) {
          out.clear();
          return true;
        }
        result.issue = RecordIssue::kMissingField;
        result.detail =
            fmt::format("{} is {}", field_names[static_cast<std::size_t>(segment.field)],
                        columns[static_cast<std::size_t>(segment.field)] < 0 ? "absent" : "empty");
        return false;
      }
      const std::size_t from = out.size();
      bool slug = false;
      for (const Filter filter : segment.filters) slug = slug || filter == Filter::kSlug;
      if (slug) {
        append_field_key(out, text);
      } else {
        out.append(text);
      }
      for (const Filter filter : segment.filters) {
        auto begin = out.begin() + static_cast<std::ptrdiff_t>(from);
        switch (filter) {
          case Filter::kUpper:
            std::transform(begin, out.end(), begin, ascii_upper);
            break;
          case Filter::kLower:
            std::transform(begin, out.end(), begin, ascii_lower);
            break;
          case Filter::kNoSpace:
            out.erase(
                std::remove_if(begin, out.end(), [](char c) { return c == ' ' || c == '\t'; }),
                out.end());
            break;
          case Filter::kSlug:
            break;
        }
      }
    }
    return true;
  }

  bool read_time(const Template& tmpl, const TimeFormat& format, const SourceRecord& record,
                 MapResult& result, std::int64_t& time_ms) {
    if (!render(tmpl, record, scratch, result)) return false;
    std::string why;
    const auto parsed = format.read(scratch, zone, why);
    if (!parsed || *parsed < stream::kEarliestTimeMs || *parsed > stream::kLatestTimeMs) {
      result.issue = RecordIssue::kBadTime;
      result.detail = parsed ? fmt::format("\"{}\" is out of range", scratch) : why;
      return false;
    }
    time_ms = *parsed;
    return true;
  }

  static std::optional<double> number(std::string_view text) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  }

  // The type from [speed], [types] or the type template.
  bool resolve_type(const SourceRecord& record, MapResult& result) {
    bool banded = speed;
    if (speed && code_field >= 0) {
      const std::string code = lower_trimmed(value(record, code_field));
      banded = std::find(speed_codes.begin(), speed_codes.end(), code) != speed_codes.end();
    }
    if (banded) {
      const auto measured = number(value(record, measured_field));
      const auto limit = number(value(record, limit_field));
      if (!measured || !limit || (by_percent && *limit <= 0)) {
        result.issue = RecordIssue::kBadSpeed;
        result.detail = fmt::format(
            "{} \"{}\" and {} \"{}\" are not speeds",
            field_names[static_cast<std::size_t>(measured_field)], value(record, measured_field),
            field_names[static_cast<std::size_t>(limit_field)], value(record, limit_field));
        return false;
      }
      const double excess = by_percent ? (*measured - *limit) * 100 / *limit : *measured - *limit;
      const SpeedBand* band = nullptr;
      for (const SpeedBand& candidate : bands) {
        if (candidate.over <= excess) band = &candidate;
      }
      if (band == nullptr) {
        result.issue = RecordIssue::kBelowSpeedBands;
        result.detail = fmt::format("{:g} over the limit", excess);
        return false;
      }
      type_text = band->type;
      return true;
    }
    if (!render(type, record, type_text, result)) return false;
    if (types.empty()) return true;
    const auto found = types.find(type_text);
    if (found != types.end()) {
      type_text = found->second;
    } else if (!keep_unmapped_types) {
      result.issue = RecordIssue::kUnmappedType;
      result.detail = fmt::format("\"{}\" is not in the mapping's [types]", type_text);
      return false;
    }
    return true;
  }

  void append_attrs(const SourceRecord& record, std::string& out) {
    if (attrs == Attrs::kNone) return;
    bool first = true;
    const auto add = [&](std::size_t column) {
      if (column >= record.values->size()) return;
      const std::string_view text = trim((*record.values)[column]);
      if (text.empty()) return;
      out.append(first ? ",\"attrs\":{" : ",");
      first = false;
      append_json(out, (*record.keys)[column]);
      out.push_back(':');
      if (record.raw_json != nullptr && (*record.raw_json)[column]) {
        out.append(text);
      } else {
        append_json(out, text);
      }
    };
    if (attrs == Attrs::kRest) {
      for (std::size_t k = 0; k < record.keys->size(); ++k) {
        if (!used[k]) add(k);
      }
    } else {
      for (const int field : attr_fields) {
        const int column = columns[static_cast<std::size_t>(field)];
        if (column >= 0) add(static_cast<std::size_t>(column));
      }
    }
    if (!first) out.push_back('}');
  }
};

namespace {

std::vector<std::string> string_list(const toml::node* node, const std::string& what) {
  std::vector<std::string> out;
  if (node == nullptr) return out;
  const auto* array = node->as_array();
  if (array == nullptr) refuse(node, fmt::format("{} must be a list of strings", what));
  for (const auto& item : *array) {
    const auto text = item.value<std::string>();
    if (!text) refuse(&item, fmt::format("{} must be a list of strings", what));
    out.push_back(*text);
  }
  return out;
}

std::string string_at(const toml::table& table, std::string_view key, const std::string& where,
                      bool required) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (required) throw ConfigError{fmt::format("[{}] needs {}", where, key)};
    return {};
  }
  const auto text = node->value<std::string>();
  if (!text) refuse(node, fmt::format("[{}] {} must be a string", where, key));
  return *text;
}

void check_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                const std::string& where) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      std::string list;
      for (const auto name : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
      refuse(&node, fmt::format("unknown key \"{}\" in [{}] (known: {})", key.str(), where, list));
    }
  }
}

const toml::table* section(const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) refuse(node, fmt::format("[{}] must be a table", name));
  return node->as_table();
}

}  // namespace

Mapping::Mapping(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mapping::Mapping(Mapping&&) noexcept = default;
Mapping& Mapping::operator=(Mapping&&) noexcept = default;
Mapping::~Mapping() = default;

std::optional<Mapping> Mapping::parse(std::string_view text, const std::string& origin,
                                      std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  try {
    toml::table root;
    try {
      root = toml::parse(text, origin);
    } catch (const toml::parse_error& parse_error) {
      throw ConfigError{
          fmt::format("line {}: {}", parse_error.source().begin.line, parse_error.description())};
    }
    check_keys(root, {"name", "description", "input", "event", "types", "speed", "decision"}, "");

    if (const auto* input = section(root, "input")) {
      check_keys(*input, {"format", "delimiter"}, "input");
      const std::string format = string_at(*input, "format", "input", false);
      if (format == "csv") {
        impl->format = InputFormat::kCsv;
      } else if (format == "json") {
        impl->format = InputFormat::kJson;
      } else if (!format.empty() && format != "auto") {
        refuse(input->get("format"), "[input] format must be \"csv\", \"json\" or \"auto\"");
      }
      const std::string delimiter = string_at(*input, "delimiter", "input", false);
      if (delimiter.size() > 1 || delimiter == "\"") {
        refuse(input->get("delimiter"), "[input] delimiter must be one character, not a quote");
      }
      if (!delimiter.empty()) impl->delimiter = delimiter[0];
    }

    const auto* event = section(root, "event");
    if (event == nullptr) throw ConfigError{"a mapping needs an [event] section"};
    check_keys(*event,
               {"subject", "id", "type", "time", "time_format", "time_zone", "source", "attrs",
                "attrs_exclude", "unmapped_types"},
               "event");
    impl->subject =
        impl->compile(string_at(*event, "subject", "event", true), event->get("subject"));
    impl->id = impl->compile(string_at(*event, "id", "event", true), event->get("id"));
    impl->time = impl->compile(string_at(*event, "time", "event", true), event->get("time"));
    std::string why;
    const std::string time_format = string_at(*event, "time_format", "event", false);
    auto format = TimeFormat::parse(time_format.empty() ? "rfc3339" : time_format, why);
    if (!format) refuse(event->get("time_format"), why);
    impl->time_format = *format;
    const std::string zone = string_at(*event, "time_zone", "event", false);
    if (!zone.empty()) {
      auto named = TimeZone::named(zone, why);
      if (!named) refuse(event->get("time_zone"), why);
      impl->zone = *named;
    }
    impl->source = impl->compile(string_at(*event, "source", "event", false), event->get("source"));
    if (const toml::node* attrs = event->get("attrs")) {
      if (attrs->is_array()) {
        impl->attrs = Impl::Attrs::kList;
        for (const auto& name : string_list(attrs, "[event] attrs")) {
          impl->attr_fields.push_back(impl->field_index(name));
        }
      } else if (attrs->value<std::string>() == "none") {
        impl->attrs = Impl::Attrs::kNone;
      } else if (attrs->value<std::string>() != "rest") {
        refuse(attrs, "[event] attrs must be \"rest\", \"none\" or a list of fields");
      }
    }
    for (const auto& name : string_list(event->get("attrs_exclude"), "[event] attrs_exclude")) {
      impl->attrs_exclude.push_back(field_key(name));
    }
    const std::string unmapped = string_at(*event, "unmapped_types", "event", false);
    if (!unmapped.empty() && unmapped != "reject" && unmapped != "keep") {
      refuse(event->get("unmapped_types"), "[event] unmapped_types must be \"reject\" or \"keep\"");
    }
    impl->keep_unmapped_types = unmapped == "keep";

    if (const auto* types = section(root, "types")) {
      for (const auto& [key, node] : *types) {
        const auto rule = node.value<std::string>();
        if (!rule || rule->empty()) refuse(&node, "[types] values must be rule names (strings)");
        impl->types.emplace(std::string(key.str()), *rule);
      }
    }

    if (const auto* speed = section(root, "speed")) {
      check_keys(*speed, {"measured", "limit", "by", "code_field", "codes", "bands"}, "speed");
      impl->speed = true;
      impl->measured_field = impl->field_index(string_at(*speed, "measured", "speed", true));
      impl->limit_field = impl->field_index(string_at(*speed, "limit", "speed", true));
      const std::string by = string_at(*speed, "by", "speed", false);
      if (!by.empty() && by != "excess" && by != "percent") {
        refuse(speed->get("by"), "[speed] by must be \"excess\" or \"percent\"");
      }
      impl->by_percent = by == "percent";
      const std::string code = string_at(*speed, "code_field", "speed", false);
      if (!code.empty()) impl->code_field = impl->field_index(code);
      for (const auto& value : string_list(speed->get("codes"), "[speed] codes")) {
        impl->speed_codes.push_back(lower_trimmed(value));
      }
      const auto* bands = speed->get_as<toml::array>("bands");
      if (bands == nullptr || bands->empty()) {
        refuse(speed, "[speed] needs bands = [{ over = N, type = \"rule\" }, ...]");
      }
      for (const auto& item : *bands) {
        const auto* band = item.as_table();
        const auto over = band != nullptr ? band->get("over") : nullptr;
        const auto type = band != nullptr ? band->get_as<std::string>("type") : nullptr;
        if (over == nullptr || !over->is_number() || type == nullptr) {
          refuse(&item, "[speed] each band is { over = N, type = \"rule\" }");
        }
        const double from = over->is_integer() ? static_cast<double>(over->as_integer()->get())
                                               : over->as_floating_point()->get();
        if (!impl->bands.empty() && from <= impl->bands.back().over) {
          refuse(&item, "[speed] bands must be in increasing order of `over`");
        }
        impl->bands.push_back({from, type->get()});
      }
    }
    if (event->get("type") != nullptr) {
      impl->type = impl->compile(string_at(*event, "type", "event", true), event->get("type"));
    } else if (!impl->speed) {
      throw ConfigError{"[event] needs type (or a [speed] section)"};
    } else if (impl->code_field >= 0) {
      throw ConfigError{"[speed] with code_field needs [event] type for the other records"};
    }

    if (const auto* decision = section(root, "decision")) {
      check_keys(*decision,
                 {"field", "upheld", "quashed", "ignore", "other", "revoke_suffix", "revoke_time",
                  "revoke_time_format"},
                 "decision");
      impl->decision = true;
      impl->decision_field = impl->field_index(string_at(*decision, "field", "decision", true));
      for (const auto& v : string_list(decision->get("upheld"), "[decision] upheld")) {
        impl->upheld.push_back(lower_trimmed(v));
      }
      for (const auto& v : string_list(decision->get("quashed"), "[decision] quashed")) {
        impl->quashed.push_back(lower_trimmed(v));
      }
      for (const auto& v : string_list(decision->get("ignore"), "[decision] ignore")) {
        impl->ignored.push_back(lower_trimmed(v));
      }
      if (impl->upheld.empty() || impl->quashed.empty()) {
        throw ConfigError{"[decision] needs upheld = [...] and quashed = [...]"};
      }
      const std::string other = string_at(*decision, "other", "decision", false);
      if (!other.empty() && other != "reject" && other != "skip") {
        refuse(decision->get("other"), "[decision] other must be \"reject\" or \"skip\"");
      }
      impl->skip_other_decisions = other == "skip";
      if (decision->get("revoke_suffix") != nullptr) {
        impl->revoke_suffix = string_at(*decision, "revoke_suffix", "decision", true);
        if (impl->revoke_suffix.empty()) {
          refuse(decision->get("revoke_suffix"), "[decision] revoke_suffix must not be empty");
        }
      }
      const std::string revoke_time = string_at(*decision, "revoke_time", "decision", false);
      impl->revoke_time = impl->compile(revoke_time, decision->get("revoke_time"));
      const std::string revoke_format =
          string_at(*decision, "revoke_time_format", "decision", false);
      auto parsed = TimeFormat::parse(revoke_format.empty() ? "rfc3339" : revoke_format, why);
      if (!parsed) refuse(decision->get("revoke_time_format"), why);
      impl->revoke_time_format = *parsed;
    }
  } catch (const ConfigError& refused) {
    error = fmt::format("{}: {}", origin, refused.message);
    return std::nullopt;
  }
  return Mapping(std::move(impl));
}

std::optional<Mapping> Mapping::load(const std::string& path, std::string& error) {
  const auto text = read_small_file(path);
  if (!text) {
    error = fmt::format("cannot read mapping file {}", path);
    return std::nullopt;
  }
  return parse(*text, path, error);
}

InputFormat Mapping::format() const noexcept { return impl_->format; }
char Mapping::delimiter() const noexcept { return impl_->delimiter; }
bool Mapping::has_decision() const noexcept { return impl_->decision; }
const std::string& Mapping::origin() const noexcept { return impl_->origin; }
const TimeZone& Mapping::time_zone() const noexcept { return impl_->zone; }
void Mapping::set_time_zone(const TimeZone& zone) { impl_->zone = zone; }
void Mapping::set_pseudonymiser(const Pseudonymiser* pseudonymiser) {
  impl_->pseudonymiser = pseudonymiser;
}

MapResult Mapping::map(const SourceRecord& record, std::string& out) {
  Impl& m = *impl_;
  MapResult result;
  m.resolve_columns(record);

  bool quashed = false;
  if (m.decision) {
    const std::string decision = lower_trimmed(m.value(record, m.decision_field));
    const auto in = [&](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), decision) != list.end();
    };
    if (in(m.quashed)) {
      quashed = true;
    } else if (!in(m.upheld)) {
      const bool skip = in(m.ignored) || m.skip_other_decisions;
      result.issue = skip ? RecordIssue::kNotADecision : RecordIssue::kUnknownDecision;
      result.detail =
          fmt::format("{} is \"{}\"", m.field_names[static_cast<std::size_t>(m.decision_field)],
                      trim(m.value(record, m.decision_field)));
      return result;
    }
  }

  if (!m.render(m.subject, record, m.subject_text, result)) return result;
  if (!m.render(m.id, record, m.id_text, result)) return result;
  std::int64_t time_ms = 0;
  if (quashed && !m.revoke_time.empty()) {
    if (!m.read_time(m.revoke_time, m.revoke_time_format, record, result, time_ms)) return result;
  } else if (!m.read_time(m.time, m.time_format, record, result, time_ms)) {
    return result;
  }
  if (!quashed && !m.resolve_type(record, result)) return result;
  if (!m.render(m.source, record, m.source_text, result, false)) return result;
  if (m.pseudonymiser != nullptr) m.subject_text = m.pseudonymiser->pseudonym(m.subject_text);

  const std::size_t id_bytes = m.id_text.size() + (quashed ? m.revoke_suffix.size() : 0);
  if (id_bytes > stream::kMaxIdBytes || m.subject_text.size() > stream::kMaxSubjectBytes ||
      m.source_text.size() > stream::kMaxSourceBytes) {
    result.issue = RecordIssue::kOversized;
    result.detail =
        fmt::format("id {} bytes (max {}), subject {} (max {}), source {} (max {})", id_bytes,
                    stream::kMaxIdBytes, m.subject_text.size(), stream::kMaxSubjectBytes,
                    m.source_text.size(), stream::kMaxSourceBytes);
    return result;
  }

  out.append("{\"id\":");
  if (quashed) {
    m.scratch = m.id_text;
    m.scratch.append(m.revoke_suffix);
    append_json(out, m.scratch);
  } else {
    append_json(out, m.id_text);
  }
  out.append(",\"subject\":");
  append_json(out, m.subject_text);
  out.append(",\"type\":");
  append_json(out, quashed ? std::string_view("revoke") : m.type_text);
  if (quashed) {
    out.append(",\"revokes\":");
    append_json(out, m.id_text);
  }
  out.append(",\"time\":\"");
  append_rfc3339_ms(out, time_ms);
  out.push_back('"');
  if (!m.source_text.empty()) {
    out.append(",\"source\":");
    append_json(out, m.source_text);
  }
  if (!quashed) m.append_attrs(record, out);
  out.push_back('}');
  result.time_ms = time_ms;
  result.revoke = quashed;
  return result;
}

}  // namespace tally::adapters
