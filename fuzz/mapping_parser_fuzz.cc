// An adapter mapping file: parsed or refused, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)tally::adapters::Mapping::parse(std::string_view(reinterpret_cast<const char*>(data), size),
                                        "fuzz.toml");
  return 0;
}
