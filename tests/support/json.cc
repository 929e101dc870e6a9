#include "tests/support/json.h"

#include <gtest/gtest.h>

#include "core/json_writer.h"

namespace tally::testing {

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element element;
  const auto error = parser.parse(text).get(element);
  EXPECT_EQ(error, simdjson::SUCCESS) << "invalid JSON: " << text;
  return element;
}

std::string score_request(std::string_view subject, std::string_view at) {
  std::string request;
  JsonWriter json(request);
  json.begin_object().field("op", "score").field("subject", subject);
  if (!at.empty()) {
    json.key("at");
    if (at.find_first_not_of("0123456789") == std::string_view::npos) {
      json.raw(at);
    } else {
      json.value(at);
    }
  }
  json.end_object();
  return request;
}

std::string subject_request(std::string_view op, std::string_view subject) {
  std::string request;
  JsonWriter(request).begin_object().field("op", op).field("subject", subject).end_object();
  return request;
}

}  // namespace tally::testing
