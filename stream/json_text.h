// Writing JSON text: the one place that escapes strings for output, used by
// answers, alerts and the dead-letter file. (Reading JSON is simdjson's job.)
#pragma once

#include <string>
#include <string_view>

namespace tally::stream {

// Appends `text` as a JSON string literal, quotes included. Control
// characters are escaped; bytes >= 0x80 pass through (input was validated as
// UTF-8 by simdjson, or is copied raw into a dead-letter record, where invalid
// UTF-8 is replaced by U+FFFD so the file stays valid NDJSON).
void append_json_string(std::string& out, std::string_view text);

}  // namespace tally::stream
