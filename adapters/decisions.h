// Decisions of an enforcement back office: an upheld decision becomes the
// event, a quashed one a revoke of it (its points taken back, for every date).
//
//   [decision]
//   field = "Decision"
//   upheld = ["UPHELD", "GUILTY"]     # values compared ignoring case and surrounding spaces
//   quashed = ["QUASHED", "NOT GUILTY"]
//   ignore = ["", "ADJOURNED"]        # skipped (not_a_decision), counted
//   other = "reject"                  # any other value: "reject" (unknown_decision) or "skip"
//   revoke_suffix = ":quashed"        # the revoke's own id: the event's id plus this
//   revoke_time = "{Decision Date}"   # optional; default the event's time
//   revoke_time_format = "%Y-%m-%d"
//
// Thread-safety: immutable once read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "adapters/field_template.h"
#include "adapters/time_format.h"

namespace tally::adapters {

struct DecisionRule {
  enum class Verdict { kUpheld, kQuashed, kNotADecision, kUnknown };

  int field = -1;
  std::vector<std::string> upheld, quashed, ignored;  // lower case, trimmed
  bool skip_other = false;
  std::string revoke_suffix = ":quashed";
  FieldTemplate revoke_time;  // empty: the event's time
  TimeFormat revoke_time_format;

  // What the decision field's value says.
  Verdict decide(std::string_view value) const;
};

}  // namespace tally::adapters
