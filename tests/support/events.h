// Events as NDJSON lines, for the tests to send. Written with core's
// JsonWriter, so any text (quotes, Unicode) comes out as valid JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tally::testing {

// The optional fields; an empty one is left out.
struct EventExtras {
  std::string_view source = {};
  std::string_view revokes = {};  // a revoke's target
  std::string_view reason = {};   // a revoke's attrs.reason
};

// {"id":ID,"subject":S,"type":T,"time":TIME,...extras} and a newline. `time`
// is written as given: RFC 3339 text, or a number of epoch milliseconds.
std::string event_line(std::string_view id, std::string_view subject, std::string_view type,
                       std::string_view time, const EventExtras& extras = {});
std::string event_line(std::string_view id, std::string_view subject, std::string_view type,
                       std::int64_t time_ms, const EventExtras& extras = {});

}  // namespace tally::testing
