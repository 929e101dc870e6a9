// tally-camera: camera violation feeds (CSV exports, ANPR JSON) to tallyd.
#include "apps/adapter_command.h"

int main(int argc, char** argv) {
  tally::apps::AdapterProgram program;
  program.name = "tally-camera";
  program.description =
      "tally-camera - read camera violation records (CSV or JSON, files, directories, stdin,\n"
      "gzip, or a live file with --follow), map each to a Tally event, and publish them to\n"
      "tallyd in acknowledged batches. Records that cannot be mapped go to a rejects file\n"
      "with the reason; nothing is dropped without a count.";
  program.presets = {"nyc-camera", "anpr-json"};
  program.footer =
      "Presets:\n"
      "  nyc-camera  NYC Open Data \"Open Parking and Camera Violations\" (CSV export or JSON):\n"
      "              subject plate:<State>:<Plate>, id nyc:<Summons Number>, type = Violation\n"
      "              in snake_case, time = Issue Date + Violation Time (UTC unless --tz)\n"
      "  anpr-json   ANPR camera JSON lines; speeding type by mph over the limit\n"
      "A new source is a mapping file (--map FILE): see docs/adapters.md.\n\n"
      "Examples:\n"
      "  tally-camera --preset nyc-camera --dry-run violations.csv | head -3   # look first\n"
      "  tally-camera --preset nyc-camera violations.csv                       # send\n"
      "  tally-camera --preset nyc-camera --tz America/New_York exports/       # a directory\n"
      "  tally-camera --map vendor.toml --follow /var/log/cam/reads.jsonl      # live feed\n"
      "  zcat old.csv.gz | tally-camera --preset nyc-camera --replay-speed 3600 -\n"
      "  tally-camera --preset nyc-camera --pseudonymise tally.key violations.csv";
  return tally::apps::run_adapter_command(program, argc, argv);
}
