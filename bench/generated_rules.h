// A large, valid rules file for reload benchmarks: `count` rules shaped like
// the shipped profiles (points, an expiry, a one-line description), plus the
// names in `also` (so that a load driver's --types resolve), a [score] table
// and five tiers. Deterministic: the same arguments give the same text.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

namespace tally::bench {

inline std::string generated_rules_toml(std::size_t count,
                                        const std::vector<std::string>& also = {}) {
  static constexpr const char* kExpiries[] = {"365d", "548d", "730d", "913d", "1096d", "1826d"};
  std::string text =
      "# Generated for benchmarks: not a real scheme.\n"
      "[score]\nbase = 0\nmin = 0\nclock = \"wall\"\nretain = \"730d\"\n\n";
  text.reserve(count * 110);
  const auto add = [&text](const std::string& name, std::size_t i) {
    fmt::format_to(std::back_inserter(text),
                   "[rules.{}]\npoints = {}\nexpires_after = \"{}\"\n"
                   "description = \"Generated rule {} for the reload benchmark\"\n\n",
                   name, 1 + i % 12, kExpiries[i % std::size(kExpiries)], i);
  };
  for (std::size_t i = 0; i < also.size(); ++i) add(also[i], i);
  for (std::size_t i = 0; i < count; ++i) add(fmt::format("generated_violation_{:05}", i), i);
  text +=
      "[[tier]]\nname = \"clear\"\nmin = 0\n[[tier]]\nname = \"notice\"\nmin = 3\n"
      "[[tier]]\nname = \"warning\"\nmin = 6\n[[tier]]\nname = \"review\"\nmin = 9\n"
      "[[tier]]\nname = \"suspension\"\nmin = 12\n";
  return text;
}

}  // namespace tally::bench
