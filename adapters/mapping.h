// A mapping: how one source's records become Tally's canonical events. A new
// camera vendor or back office is a mapping file (TOML), not code; the
// built-in presets (mapping_presets.h) are mapping files too.
//
//   [input]
//   format = "auto"          # "csv", "json" (JSON lines, or one array of
//                            # objects) or "auto": json if the input starts with { or [
//   delimiter = ","          # csv only
//
//   [event]
//   subject = "plate:{State|upper}:{Plate|upper|nospace}"   # templates: see below
//   id = "nyc:{Summons Number}"
//   type = "{Violation|slug}"
//   time = "{Issue Date} {Violation Time}"
//   time_format = "%m/%d/%Y %I:%M%p"   # or rfc3339, epoch_ms, epoch_s (civil_time.h)
//   time_zone = "UTC"        # an IANA zone for local times; --tz overrides
//   source = "{Issuing Agency}"         # optional; empty gives no source
//   attrs = "rest"           # "rest" (every field no template uses), "none",
//                            # or a list of fields
//   attrs_exclude = ["Summons Image"]   # optional, with "rest"
//   unmapped_types = "reject"           # with [types]: "reject" or "keep"
//
//   [types]                  # optional: rendered type -> rule name
//   "FAILURE TO STOP AT RED LIGHT" = "red_light"
//
//   [speed]                  # optional: the type from a speed band
//   measured = "speed"       # fields holding numbers, same unit
//   limit = "limit"
//   by = "excess"            # "excess" (measured - limit) or "percent" (over the limit)
//   code_field = "code"      # optional: bands apply only when this field...
//   codes = ["SPEED"]        # ...is one of these; other records use `type`
//   bands = [{ over = 1, type = "speeding_1_10" }, { over = 11, type = "speeding_11_20" }]
//                            # the band with the largest `over` <= excess; below the
//                            # first band the record is skipped (below_speed_bands)
//
//   [decision]               # enforcement: upheld -> the event; quashed -> a revoke
//   field = "Decision"
//   upheld = ["upheld"]      # values compared ignoring case and surrounding spaces
//   quashed = ["quashed"]
//   ignore = ["", "adjourned"]   # skipped (not_a_decision), counted
//   other = "reject"         # any other value: "reject" (unknown_decision) or "skip"
//   revoke_suffix = ":quashed"   # the revoke's id is the event's id plus this
//   revoke_time = "{Decision Date}"  # optional; default the event's time
//   revoke_time_format = "%Y-%m-%d"
//
// Templates: literal text with {Field|filter|...}; `{{` and `}}` are literal
// braces. Fields are named as the source names them (matched by field_key:
// case, spaces and punctuation do not matter). Values are trimmed of
// surrounding spaces; a field absent or empty makes the record a reject
// (missing_field), except in `source`. Filters: upper, lower, slug (as a
// rule name: lower case, runs of other characters -> '_'), nospace (drops
// spaces).
//
// Thread-safety: map() keeps a column cache; one Mapping per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/civil_time.h"
#include "adapters/source_record.h"

namespace tally::adapters {

class Pseudonymiser;

// Why a record did not become an event. Stable strings (record_issue_name)
// used in the rejects file, summaries and tests.
enum class RecordIssue : std::uint8_t {
  kNone,
  // Rejected: written to the rejects file.
  kCsvBadQuote,      // csv_bad_quote
  kCsvUnterminated,  // csv_unterminated
  kCsvColumnCount,   // csv_column_count: more fields than the header
  kMalformedJson,    // malformed_json
  kNotAnObject,      // not_an_object
  kMissingField,     // missing_field: a template's field absent or empty
  kBadTime,          // bad_time
  kUnmappedType,     // unmapped_type: not in [types]
  kBadSpeed,         // bad_speed: speeds missing or not numbers
  kUnknownDecision,  // unknown_decision
  kOversized,        // oversized: id > 64, subject > 128 or source > 64 bytes
  // Skipped: counted, not written.
  kBelowSpeedBands,  // below_speed_bands
  kNotADecision,     // not_a_decision
};
std::string_view record_issue_name(RecordIssue issue) noexcept;
bool is_skip(RecordIssue issue) noexcept;

enum class InputFormat { kAuto, kCsv, kJson };

struct MapResult {
  RecordIssue issue = RecordIssue::kNone;  // kNone: `out` got an event
  std::string detail;                      // for a reject: what exactly
  std::int64_t time_ms = 0;                // the event's time (for --replay-speed)
  bool revoke = false;                     // the event is a revoke (quashed)
};

class Mapping {
 public:
  // Parses a mapping; `origin` names it in messages ("file.toml", "preset
  // nyc-camera"). nullopt with `error` (origin, line, what) if it is not valid.
  static std::optional<Mapping> parse(std::string_view toml, const std::string& origin,
                                      std::string& error);
  static std::optional<Mapping> load(const std::string& path, std::string& error);

  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;
  ~Mapping();

  InputFormat format() const noexcept;
  char delimiter() const noexcept;
  bool has_decision() const noexcept;
  const std::string& origin() const noexcept;
  const TimeZone& time_zone() const noexcept;
  void set_time_zone(const TimeZone& zone);
  // Subjects are replaced by their pseudonym; null for none. Not owned.
  void set_pseudonymiser(const Pseudonymiser* pseudonymiser);

  // Appends one NDJSON event (no newline) to `out` for the record, or says
  // why not. On a reject or skip, `out` is left as it was.
  MapResult map(const SourceRecord& record, std::string& out);

 private:
  struct Impl;
  explicit Mapping(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::adapters
