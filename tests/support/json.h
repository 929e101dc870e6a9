// Reading tallyd's answers in tests, and writing the requests they send.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

namespace tally::testing {

// Parses `text`; fails the test (and answers an empty element) when it is
// not JSON. The element lives as long as `parser` and its next parse.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text);

// {"op":"score","subject":S} with "at" when `at` is not empty: all digits
// are epoch milliseconds (a number), anything else an RFC 3339 string.
std::string score_request(std::string_view subject, std::string_view at = {});
// {"op":OP,"subject":S}: explain, history.
std::string subject_request(std::string_view op, std::string_view subject);

}  // namespace tally::testing
