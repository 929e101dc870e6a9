// tally-enforcement: an enforcement back office's decisions to tallyd:
// upheld -> the event, quashed -> a revoke of it.
#include "apps/adapter_command.h"

int main(int argc, char** argv) {
  tally::apps::AdapterProgram program;
  program.name = "tally-enforcement";
  program.description =
      "tally-enforcement - read decisions of an enforcement back office (CSV or JSON lines:\n"
      "case, person or organisation, offence, decision date, decision) and publish them to\n"
      "tallyd: an upheld decision becomes the event, a quashed one a revoke of that event\n"
      "(its points are taken back, for every date). The mapping's [decision] section says\n"
      "which values mean what.";
  program.presets = {"nyc-hearings"};
  program.enforcement = true;
  program.footer =
      "Presets:\n"
      "  nyc-hearings  hearing outcomes (Violation Status) in NYC's camera export:\n"
      "                NOT GUILTY revokes nyc:<Summons Number>\n"
      "A back office's own layout is a mapping file (--map FILE); a worked example is\n"
      "config/mappings/backoffice-decisions.toml with samples/enforcement-decisions.csv.\n\n"
      "Examples:\n"
      "  tally-enforcement --map config/mappings/backoffice-decisions.toml decisions.csv\n"
      "  tally-enforcement --preset nyc-hearings violations.csv\n"
      "  tally-enforcement --map backoffice.toml --follow /srv/exports/decisions.csv";
  return tally::apps::run_adapter_command(program, argc, argv);
}
