// A rules file: loaded or refused with a place and a reason, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scorer/rules.h"
#include "scorer/rules_diff.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = tally::scorer::parse_rules(text, "fuzz.toml", 1);
  if (parsed) {
    (void)tally::scorer::diff_rules(**parsed, **parsed);
    for (const auto& tier : (*parsed)->tiers()) (void)(*parsed)->tier_for(tier.min);
  }
  return 0;
}
