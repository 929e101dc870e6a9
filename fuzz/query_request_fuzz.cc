// A query request: parsed or refused with a named code, and what parses
// writes back to the same request.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static simdjson::dom::parser parser;
  const auto request = tally::api::parse_request(
      std::string_view(reinterpret_cast<const char*>(data), size), parser);
  if (request) {
    const auto again = tally::api::parse_request(tally::api::to_json(*request), parser);
    if (!again || tally::api::to_json(*again) != tally::api::to_json(*request)) __builtin_trap();
  } else if (!tally::api::error_code_of(request.status())) {
    __builtin_trap();  // every refusal names its code
  }
  return 0;
}
