// Events as NDJSON lines, for the tests to send. Written with core's
// JsonWriter, so any text (quotes, Unicode) comes out as valid JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

// Batches of random events under kPlainSumRules (types small 1, medium 3,
// large 7, nothing expires), so a subject's score is the plain sum of its
// events' points and losing or doubling one always shows. Ids are
// "<prefix>B-I"; subjects "plate:<prefix>:N". The same seed gives the same
// batches, and the first k batches of a longer workload are those of k.
struct PlainSumWorkload {
  std::vector<std::string> batches;
  std::map<std::string, std::int64_t> expected;  // subject -> score
  std::uint64_t events = 0;
};
PlainSumWorkload make_plain_sum_workload(int batches, int per_batch, int subjects,
                                         std::uint32_t seed, std::string_view prefix);

}  // namespace tally::testing
