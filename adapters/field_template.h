// The fields a mapping names, how a record's values are found for them, and
// the templates that render them (`{Field|filter|...}`).
//
// FieldNames: every field a mapping names, once, by its normalised key
// (field_key: "Summons Number" and "summons_number" are one field), with the
// name as first written, for messages.
//
// RecordFields: one record seen through those names. The column of each field
// is looked up once per header (a CSV file's rows share one; SourceRecord's
// keys_version says when it changes), not once per record.
//
// FieldTemplate: literal text with `{Field}` or `{Field|filter|...}`; `{{`
// and `}}` are literal braces. Values are trimmed. Filters: upper, lower,
// slug (a rule name: lower case, each run of other characters -> '_'),
// nospace (drops spaces and tabs).
//
// Thread-safety: FieldNames and FieldTemplate are immutable once built;
// RecordFields is one per thread (it caches columns).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/source_record.h"
#include "core/status.h"

namespace tally::adapters {

class FieldNames {
 public:
  // The index of the field `name` names, added if new. Refuses a name with
  // no letter or digit (it has no key).
  Result<int> index_of(std::string_view name);
  std::size_t size() const noexcept { return keys_.size(); }
  const std::string& key(int field) const { return keys_[static_cast<std::size_t>(field)]; }
  const std::string& name(int field) const { return names_[static_cast<std::size_t>(field)]; }

 private:
  std::vector<std::string> keys_;   // normalised
  std::vector<std::string> names_;  // as first written
};

class RecordFields {
 public:
  // Sees `record` through `names`; true if the columns were looked up anew
  // (the record's keys differ from the last record's).
  bool bind(const FieldNames& names, const SourceRecord& record);

  const SourceRecord& record() const noexcept { return *record_; }
  // The field's column in the record, -1 if the record has no such field.
  int column(int field) const noexcept { return columns_[static_cast<std::size_t>(field)]; }
  // The field's trimmed value; empty if absent.
  std::string_view value(int field) const noexcept {
    const int at = column(field);
    if (at < 0 || static_cast<std::size_t>(at) >= record_->values->size()) return {};
    return trim_value((*record_->values)[static_cast<std::size_t>(at)]);
  }

 private:
  const SourceRecord* record_ = nullptr;
  std::uint64_t cached_version_ = 0;
  std::vector<int> columns_;
};

class FieldTemplate {
 public:
  static constexpr int kRendered = -1;

  FieldTemplate() = default;  // renders nothing
  // Compiles `text`, adding the fields it names to `names`. Refuses a lone
  // brace or an unknown filter.
  static Result<FieldTemplate> compile(std::string_view text, FieldNames& names);

  bool empty() const noexcept { return segments_.empty(); }
  const std::string& text() const noexcept { return text_; }

  // Renders into `out` (cleared first). kRendered, or the first field that is
  // absent or empty (then `out` holds part of the text).
  int render(const RecordFields& fields, std::string& out) const;

 private:
  enum class Filter : std::uint8_t { kUpper, kLower, kNoSpace };
  struct Segment {
    std::string literal;  // when field < 0
    int field = -1;
    bool slug = false;            // normalised as it is copied
    std::vector<Filter> filters;  // the others, applied in order after the copy
  };
  static void apply(Filter filter, std::string& out, std::size_t from);

  std::vector<Segment> segments_;
  std::string text_;  // as written, for messages
};

}  // namespace tally::adapters
