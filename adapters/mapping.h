// A mapping at work: each source record in, one canonical NDJSON event out
// (the brief's event contract), or the reason it is not one. What a mapping
// says is read by MappingSpec (mapping_spec.h, where the file format is
// drawn); this is the per-record side: templates rendered, the time read in
// its zone, the type from [types], [speed] or [decision], the subject
// pseudonymised, sizes checked against tallyd's limits, and the event
// written through JsonWriter.
//
// Cost per record: no allocation once the scratch strings have grown; the
// columns of a CSV header are looked up once.
//
// Thread-safety: map() keeps a column cache and scratch; one Mapping per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/field_template.h"
#include "adapters/mapping_spec.h"
#include "adapters/record_issue.h"
#include "adapters/source_record.h"
#include "core/status.h"

namespace tally::adapters {

class Pseudonymiser;

struct MapResult {
  RecordIssue issue = RecordIssue::kNone;  // kNone: `out` got an event
  std::string detail;                      // for a reject: what exactly
  std::int64_t time_ms = 0;                // the event's time (for --replay-speed)
  bool revoke = false;                     // the event is a revoke (quashed)
};

class Mapping {
 public:
  explicit Mapping(MappingSpec spec) : spec_(std::move(spec)) {}
  // MappingSpec::parse, then a Mapping of it.
  static Result<Mapping> parse(std::string_view toml, const std::string& origin);
  static Result<Mapping> load(const std::string& path);

  InputFormat format() const noexcept { return spec_.format; }
  char delimiter() const noexcept { return spec_.delimiter; }
  bool has_decision() const noexcept { return spec_.decision.has_value(); }
  const std::string& origin() const noexcept { return spec_.origin; }
  const TimeZone& time_zone() const noexcept { return spec_.zone; }
  void set_time_zone(const TimeZone& zone) { spec_.zone = zone; }
  // Subjects are replaced by their pseudonym; null for none. Not owned.
  void set_pseudonymiser(const Pseudonymiser* pseudonymiser) { pseudonymiser_ = pseudonymiser; }

  // Appends one NDJSON event (no newline) to `out` for the record, or says
  // why not. On a reject or skip, `out` is left as it was.
  MapResult map(const SourceRecord& record, std::string& out);

 private:
  // Each false with `result` saying why.
  bool render(const FieldTemplate& tmpl, std::string& out, MapResult& result);
  bool read_time(const FieldTemplate& tmpl, const TimeFormat& format, MapResult& result,
                 std::int64_t& time_ms);
  bool resolve_type(MapResult& result);
  void mark_used_columns();
  void write_event(bool quashed, std::int64_t time_ms, std::string& out);

  MappingSpec spec_;
  const Pseudonymiser* pseudonymiser_ = nullptr;

  RecordFields fields_;     // the current record, through spec_.fields
  std::vector<bool> used_;  // per column of the current header: kept out of "rest" attrs

  // Scratch, reused across records.
  std::string subject_, id_, type_, source_, scratch_;
};

}  // namespace tally::adapters
