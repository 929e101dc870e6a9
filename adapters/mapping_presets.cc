#include "adapters/mapping_presets.h"

#include <algorithm>

#include "adapters/mapping_preset_data.h"  // generated: kPresets

namespace tally::adapters {

std::span<const MappingPreset> mapping_presets() { return kPresets; }

const MappingPreset* find_mapping_preset(std::string_view name) {
  const auto presets = mapping_presets();
  const auto found = std::find_if(presets.begin(), presets.end(),
                                  [&](const MappingPreset& preset) { return preset.name == name; });
  return found == presets.end() ? nullptr : &*found;
}

}  // namespace tally::adapters
