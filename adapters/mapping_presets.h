// The built-in mappings (--preset NAME): the files config/mappings/<NAME>.toml,
// compiled into the library at build time (adapters/CMakeLists.txt), so a
// preset works from any directory and matches the file a user can copy.
#pragma once

#include <span>
#include <string_view>

namespace tally::adapters {

struct MappingPreset {
  std::string_view name;  // e.g. "nyc-camera"
  std::string_view toml;  // the mapping file's text
};

std::span<const MappingPreset> mapping_presets();
// nullptr if there is no preset of that name.
const MappingPreset* find_mapping_preset(std::string_view name);

}  // namespace tally::adapters
