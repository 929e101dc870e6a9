#include "adapters/field_template.h"

#include <fmt/format.h>

#include <algorithm>

namespace tally::adapters {

Result<int> FieldNames::index_of(std::string_view name) {
  std::string key = field_key(name);
  if (key.empty()) return Status::invalid_argument(fmt::format("\"{}\" is not a field name", name));
  const auto found = std::find(keys_.begin(), keys_.end(), key);
  if (found != keys_.end()) return static_cast<int>(found - keys_.begin());
  keys_.push_back(std::move(key));
  names_.emplace_back(name);
  return static_cast<int>(keys_.size() - 1);
}

bool RecordFields::bind(const FieldNames& names, const SourceRecord& record) {
  record_ = &record;
  if (record.keys_version != 0 && record.keys_version == cached_version_) return false;
  cached_version_ = record.keys_version;
  const std::vector<std::string>& keys = *record.keys;
  columns_.assign(names.size(), -1);
  for (std::size_t field = 0; field < names.size(); ++field) {
    const auto found = std::find(keys.begin(), keys.end(), names.key(static_cast<int>(field)));
    if (found != keys.end()) columns_[field] = static_cast<int>(found - keys.begin());
  }
  return true;
}

Result<FieldTemplate> FieldTemplate::compile(std::string_view text, FieldNames& names) {
  FieldTemplate result;
  result.text_ = std::string(text);
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (c == '}') {
      return Status::invalid_argument(
          fmt::format("template \"{}\": a lone }} (write }}}} for one)", text));
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) {
      return Status::invalid_argument(fmt::format("template \"{}\": a {{ without its }}", text));
    }
    if (!literal.empty()) result.segments_.push_back({std::move(literal), -1, false, {}});
    literal.clear();
    std::string_view inside = text.substr(i + 1, close - i - 1);
    Segment segment;
    const auto bar = inside.find('|');
    const Result<int> field = names.index_of(trim_value(inside.substr(0, bar)));
    if (!field) return field.status();
    segment.field = *field;
    while (bar != std::string_view::npos && !inside.empty()) {
      inside = inside.substr(inside.find('|') + 1);
      const auto next = inside.find('|');
      const std::string_view name = trim_value(inside.substr(0, next));
      if (name == "upper") {
        segment.filters.push_back(Filter::kUpper);
      } else if (name == "lower") {
        segment.filters.push_back(Filter::kLower);
      } else if (name == "slug") {
        segment.slug = true;  // it normalises as the value is copied, wherever it stands
      } else if (name == "nospace") {
        segment.filters.push_back(Filter::kNoSpace);
      } else {
        return Status::invalid_argument(
            fmt::format("template \"{}\": unknown filter \"{}\" (known: upper, lower, slug, "
                        "nospace)",
                        text, name));
      }
      if (next == std::string_view::npos) break;
    }
    result.segments_.push_back(std::move(segment));
    i = close;
  }
  if (!literal.empty()) result.segments_.push_back({std::move(literal), -1, false, {}});
  return result;
}

int FieldTemplate::render(const RecordFields& fields, std::string& out) const {
  out.clear();
  for (const Segment& segment : segments_) {
    if (segment.field < 0) {
      out.append(segment.literal);
      continue;
    }
    const std::string_view text = fields.value(segment.field);
    if (text.empty()) return segment.field;
    const std::size_t from = out.size();
    if (segment.slug) {
      append_field_key(out, text);
    } else {
      out.append(text);
    }
    // The other filters work in place, in the order written.
    for (const Filter filter : segment.filters) apply(filter, out, from);
  }
  return kRendered;
}

void FieldTemplate::apply(Filter filter, std::string& out, std::size_t from) {
  const auto begin = out.begin() + static_cast<std::ptrdiff_t>(from);
  switch (filter) {
    case Filter::kUpper:
      std::transform(begin, out.end(), begin, ascii_upper);
      break;
    case Filter::kLower:
      std::transform(begin, out.end(), begin, ascii_lower);
      break;
    case Filter::kNoSpace:
      out.erase(std::remove_if(begin, out.end(), [](char c) { return c == ' ' || c == '\t'; }),
                out.end());
      break;
  }
}

}  // namespace tally::adapters
