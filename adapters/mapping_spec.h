// A mapping file, read: how one source's records become Tally's canonical
// events. A new camera vendor or back office is a mapping file (TOML), not
// code; the built-in presets (mapping_presets.h) are mapping files too.
//
//   [input]
//   format = "auto"          # "csv", "json" (JSON lines, or one array of
//                            # objects) or "auto": json if the input starts with { or [
//   delimiter = ","          # csv only
//
//   [event]
//   subject = "plate:{State|upper}:{Plate|upper|nospace}"   # templates (field_template.h)
//   id = "nyc:{Summons Number}"
//   type = "{Violation|slug}"
//   time = "{Issue Date} {Violation Time}"
//   time_format = "%m/%d/%Y %I:%M%p"   # or rfc3339, epoch_ms, epoch_s (time_format.h)
//   time_zone = "UTC"        # an IANA zone for local times (time_zone.h); --tz overrides
//   source = "{Issuing Agency}"         # optional; empty gives no source
//   attrs = "rest"           # "rest" (every field no template uses), "none",
//                            # or a list of fields
//   attrs_exclude = ["Summons Image"]   # optional, with "rest"
//   unmapped_types = "reject"           # with [types]: "reject" or "keep"
//
//   [types]                  # optional: rendered type -> rule name
//   "FAILURE TO STOP AT RED LIGHT" = "red_light"
//
//   [speed]                  # optional: the type from a speed band (speed_bands.h)
//   [decision]               # enforcement: upheld/quashed (decisions.h)
//
// A template's field that is absent or empty makes the record a reject
// (missing_field), except in `source`.
//
// A mapping that breaks these rules is refused with its origin, the line and
// the reason ("vendor.toml: line 7: [event] attrs must be ...").
//
// Thread-safety: immutable once read.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/decisions.h"
#include "adapters/field_template.h"
#include "adapters/speed_bands.h"
#include "adapters/time_format.h"
#include "adapters/time_zone.h"
#include "core/status.h"

namespace tally::adapters {

enum class InputFormat { kAuto, kCsv, kJson };

struct MappingSpec {
  enum class Attrs { kRest, kNone, kList };

  std::string origin;  // "vendor.toml", "preset nyc-camera": names it in messages
  InputFormat format = InputFormat::kAuto;
  char delimiter = ',';

  FieldNames fields;  // every field a template or section names
  FieldTemplate subject, id, type, time, source;
  TimeFormat time_format;
  TimeZone zone;

  Attrs attrs = Attrs::kRest;
  std::vector<int> attr_fields;            // kList
  std::vector<std::string> attrs_exclude;  // kRest: normalised keys

  std::map<std::string, std::string, std::less<>> types;
  bool keep_unmapped_types = false;

  std::optional<SpeedBands> speed;
  std::optional<DecisionRule> decision;

  // Reads a mapping's TOML text; `origin` names it in messages.
  static Result<MappingSpec> parse(std::string_view toml, const std::string& origin);
};

}  // namespace tally::adapters
