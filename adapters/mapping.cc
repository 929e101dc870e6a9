#include "adapters/mapping.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/byte_source.h"
#include "adapters/pseudonymiser.h"
#include "core/event.h"
#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::adapters {

Result<Mapping> Mapping::parse(std::string_view toml, const std::string& origin) {
  Result<MappingSpec> spec = MappingSpec::parse(toml, origin);
  if (!spec) return spec.status();
  return Mapping(std::move(*spec));
}

Result<Mapping> Mapping::load(const std::string& path) {
  const Result<std::string> text = read_small_file(path);
  if (!text) return text.status();
  return parse(*text, path);
}

MapResult Mapping::map(const SourceRecord& record, std::string& out) {
  MapResult result;
  if (fields_.bind(spec_.fields, record)) mark_used_columns();

  bool quashed = false;
  if (spec_.decision) {
    const DecisionRule& rule = *spec_.decision;
    const DecisionRule::Verdict verdict = rule.decide(fields_.value(rule.field));
    if (verdict == DecisionRule::Verdict::kNotADecision ||
        verdict == DecisionRule::Verdict::kUnknown) {
      result.issue = verdict == DecisionRule::Verdict::kNotADecision
                         ? RecordIssue::kNotADecision
                         : RecordIssue::kUnknownDecision;
      result.detail =
          fmt::format("{} is \"{}\"", spec_.fields.name(rule.field), fields_.value(rule.field));
      return result;
    }
    quashed = verdict == DecisionRule::Verdict::kQuashed;
  }

  if (!render(spec_.subject, subject_, result) || !render(spec_.id, id_, result)) return result;
  std::int64_t time_ms = 0;
  const bool revoke_time = quashed && !spec_.decision->revoke_time.empty();
  if (!read_time(revoke_time ? spec_.decision->revoke_time : spec_.time,
                 revoke_time ? spec_.decision->revoke_time_format : spec_.time_format, result,
                 time_ms)) {
    return result;
  }
  if (!quashed && !resolve_type(result)) return result;
  // `source` is optional: a field absent or empty gives no source.
  if (spec_.source.render(fields_, source_) != FieldTemplate::kRendered) source_.clear();
  if (pseudonymiser_ != nullptr) subject_ = pseudonymiser_->pseudonym(subject_);

  const std::size_t id_bytes = id_.size() + (quashed ? spec_.decision->revoke_suffix.size() : 0);
  if (id_bytes > kMaxIdBytes || subject_.size() > kMaxSubjectBytes ||
      source_.size() > kMaxSourceBytes) {
    result.issue = RecordIssue::kOversized;
    result.detail = fmt::format("id {} bytes (max {}), subject {} (max {}), source {} (max {})",
                                id_bytes, kMaxIdBytes, subject_.size(), kMaxSubjectBytes,
                                source_.size(), kMaxSourceBytes);
    return result;
  }
  write_event(quashed, time_ms, out);
  result.time_ms = time_ms;
  result.revoke = quashed;
  return result;
}

bool Mapping::render(const FieldTemplate& tmpl, std::string& out, MapResult& result) {
  const int missing = tmpl.render(fields_, out);
  if (missing == FieldTemplate::kRendered) return true;
  result.issue = RecordIssue::kMissingField;
  result.detail = fmt::format("{} is {}", spec_.fields.name(missing),
                              fields_.column(missing) < 0 ? "absent" : "empty");
  return false;
}

bool Mapping::read_time(const FieldTemplate& tmpl, const TimeFormat& format, MapResult& result,
                        std::int64_t& time_ms) {
  if (!render(tmpl, scratch_, result)) return false;
  const Result<std::int64_t> parsed = format.read(scratch_, spec_.zone);
  if (!parsed || *parsed < kEarliestTimeMs || *parsed > kLatestTimeMs) {
    result.issue = RecordIssue::kBadTime;
    result.detail = parsed ? fmt::format("\"{}\" is out of range", scratch_)
                           : std::string(parsed.status().message());
    return false;
  }
  time_ms = *parsed;
  return true;
}

bool Mapping::resolve_type(MapResult& result) {
  if (spec_.speed && spec_.speed->applies_to(fields_)) {
    SpeedBands::Verdict verdict = spec_.speed->classify(fields_, spec_.fields);
    if (verdict.band == nullptr) {
      result.issue = verdict.issue;
      result.detail = std::move(verdict.detail);
      return false;
    }
    type_ = verdict.band->type;
    return true;
  }
  if (!render(spec_.type, type_, result)) return false;
  if (spec_.types.empty()) return true;
  const auto found = spec_.types.find(type_);
  if (found != spec_.types.end()) {
    type_ = found->second;
  } else if (!spec_.keep_unmapped_types) {
    result.issue = RecordIssue::kUnmappedType;
    result.detail = fmt::format("\"{}\" is not in the mapping's [types]", type_);
    return false;
  }
  return true;
}

void Mapping::mark_used_columns() {
  // A column a template or section names is not an attr under "rest", nor is
  // one that attrs_exclude names.
  const std::vector<std::string>& keys = *fields_.record().keys;
  used_.assign(keys.size(), false);
  for (std::size_t field = 0; field < spec_.fields.size(); ++field) {
    const int column = fields_.column(static_cast<int>(field));
    if (column >= 0) used_[static_cast<std::size_t>(column)] = true;
  }
  if (spec_.attrs != MappingSpec::Attrs::kRest) return;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const auto& excluded = spec_.attrs_exclude;
    if (std::find(excluded.begin(), excluded.end(), keys[k]) != excluded.end()) used_[k] = true;
  }
}

void Mapping::write_event(bool quashed, std::int64_t time_ms, std::string& out) {
  JsonWriter json(out);
  json.begin_object();
  if (quashed) {
    scratch_ = id_;
    scratch_.append(spec_.decision->revoke_suffix);
    json.plain_key("id").value(scratch_);
  } else {
    json.plain_key("id").value(id_);
  }
  json.plain_key("subject").value(subject_);
  json.plain_key("type").value(quashed ? std::string_view("revoke") : std::string_view(type_));
  if (quashed) json.plain_key("revokes").value(id_);
  scratch_.clear();
  append_rfc3339_ms(scratch_, time_ms);
  json.plain_key("time").value(scratch_);
  if (!source_.empty()) json.plain_key("source").value(source_);
  if (!quashed && spec_.attrs != MappingSpec::Attrs::kNone) {
    const SourceRecord& record = fields_.record();
    bool open = false;
    const auto add = [&](std::size_t column) {
      if (column >= record.values->size()) return;
      const std::string_view text = trim_value((*record.values)[column]);
      if (text.empty()) return;
      if (!open) json.plain_key("attrs").begin_object();
      open = true;
      // Keys are normalised field names (field_key): letters, digits, '_'.
      json.plain_key((*record.keys)[column]);
      // JSON numbers, booleans, objects and arrays go in as they are.
      if (record.raw_json != nullptr && (*record.raw_json)[column]) {
        json.raw(text);
      } else {
        json.value(text);
      }
    };
    if (spec_.attrs == MappingSpec::Attrs::kRest) {
      for (std::size_t k = 0; k < record.keys->size(); ++k) {
        if (!used_[k]) add(k);
      }
    } else {
      for (const int field : spec_.attr_fields) {
        const int column = fields_.column(field);
        if (column >= 0) add(static_cast<std::size_t>(column));
      }
    }
    if (open) json.end_object();
  }
  json.end_object();
}

}  // namespace tally::adapters
