// The command line shared by tally-camera and tally-enforcement: flags into
// AdapterOptions, the mapping (a preset or --map FILE, --tz, --pseudonymise),
// signals, and the run. Each program's main only names itself, its presets and
// its help text.
#pragma once

#include <string>
#include <vector>

namespace tally::apps {

struct AdapterProgram {
  std::string name;         // "tally-camera"
  std::string description;  // first line of --help
  std::vector<std::string> presets;
  bool enforcement = false;  // mappings must have a [decision] section (else must not)
  std::string footer;        // examples for --help
};

int run_adapter_command(const AdapterProgram& program, int argc, char** argv);

}  // namespace tally::apps
