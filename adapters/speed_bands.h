// Speed bands: a speeding record's rule from how far over the limit it was.
//
//   [speed]
//   measured = "speed_mph"      # fields holding numbers, in one unit
//   limit = "limit_mph"
//   by = "excess"               # measured - limit, or "percent": over the limit, in %
//   code_field = "violation"    # optional: the bands apply only when this field...
//   codes = ["SPEED"]           # ...is one of these (any case); other records use [event] type
//   bands = [{ over = 1, type = "speeding_1_10" }, { over = 11, type = "speeding_11_20" }]
//
// The band is the one with the largest `over` <= the excess; below the first
// band the record is skipped (below_speed_bands); speeds that are not numbers
// reject it (bad_speed).
//
// Thread-safety: immutable once read.
#pragma once

#include <string>
#include <vector>

#include "adapters/field_template.h"
#include "adapters/record_issue.h"

namespace tally::adapters {

struct SpeedBand {
  double over = 0;
  std::string type;  // the rule name
};

struct SpeedBands {
  int measured_field = -1;
  int limit_field = -1;
  int code_field = -1;  // -1: every record is banded
  bool by_percent = false;
  std::vector<std::string> codes;  // lower case, trimmed
  std::vector<SpeedBand> bands;    // ascending `over`

  // Whether this record's type comes from the bands.
  bool applies_to(const RecordFields& fields) const;

  struct Verdict {
    const SpeedBand* band = nullptr;  // null: `issue` and `detail` say why
    RecordIssue issue = RecordIssue::kNone;
    std::string detail;
  };
  Verdict classify(const RecordFields& fields, const FieldNames& names) const;
};

}  // namespace tally::adapters
