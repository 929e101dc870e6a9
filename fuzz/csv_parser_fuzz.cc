// CSV fed line by line, as the adapters feed it: records, refusals, never a
// crash, and never more than the record cap held.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tally::adapters::CsvParser parser(',', 4096);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    (void)parser.feed(line);
    for (const std::string_view field : parser.fields()) (void)field.size();
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  (void)parser.finish();
  return 0;
}
