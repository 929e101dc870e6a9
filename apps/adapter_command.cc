#include "apps/adapter_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <optional>

#include "adapters/adapter_run.h"
#include "adapters/mapping.h"
#include "adapters/mapping_presets.h"
#include "adapters/pseudonymiser.h"
#include "api/endpoints.h"
#include "core/nats_connection.h"
#include "core/signal_watcher.h"

namespace tally::apps {
namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace

int run_adapter_command(const AdapterProgram& program, int argc, char** argv) {
  using namespace tally::adapters;
  CLI::App app{program.description, program.name};
  AdapterOptions options;
  options.program = program.name;
  std::string preset, map_file, zone, key_file, progress = "auto";
  double ack_timeout_s = 2, send_timeout_s = 30, max_delay_s = 0.25, progress_s = 10;

  std::string preset_list;
  for (const auto& name : program.presets) preset_list += (preset_list.empty() ? "" : ", ") + name;
  app.add_option("input", options.inputs,
                 "Files (CSV or JSON, gzip or not), directories (every file inside), - for stdin")
      ->required();
  auto* preset_option =
      app.add_option("--preset", preset, fmt::format("A built-in mapping: {}", preset_list))
          ->check(CLI::IsMember(program.presets));
  auto* map_option =
      app.add_option("--map", map_file, "A mapping file (TOML; docs/adapters.md, config/mappings/)")
          ->check(CLI::ExistingFile);
  preset_option->excludes(map_option);
  app.add_option("--tz", zone,
                 "Time zone of the source's local times (IANA name, e.g. America/New_York); "
                 "overrides the mapping's time_zone");
  app.add_option("--submit", options.publisher.endpoint, "tallyd's acknowledged ingest endpoint")
      ->default_val(api::kDefaultSubmitEndpoint);
  std::string nats_urls;
  app.add_option("--nats", nats_urls,
                 "Publish into a cluster's replicated log instead (NATS servers, comma-separated "
                 "nats://HOST:PORT; docs/cluster.md); --submit is then not used");
  app.add_option("--stream", options.jetstream.stream, "With --nats: the stream")
      ->capture_default_str();
  std::string curve_key, server_key;
  app.add_option("--key", curve_key,
                 "tallyd --auth: this adapter's secret key file (NAME.key, `tally keygen`)");
  app.add_option("--server-key", server_key,
                 "tallyd --auth: the server's public key, or its .pub file");
  app.add_flag(
      "--dry-run", options.dry_run,
      "Print the events as NDJSON on stdout instead of sending them (for mapping authors)");
  app.add_flag("--follow,-F", options.follow,
               "Follow the one input file as it grows, like tail -F (rotation and truncation "
               "handled), until SIGINT or SIGTERM (then what was read is sent and answered)");
  app.add_option("--replay-speed", options.replay_speed,
                 "Send in event-time order at X times real speed (reads everything first)")
      ->check(CLI::PositiveNumber);
  app.add_option("--pseudonymise,--pseudonymize", key_file,
                 "Replace each subject by a keyed BLAKE2b hash; KEYFILE holds 64 hex digits "
                 "(make one: openssl rand -hex 32 > KEYFILE)")
      ->check(CLI::ExistingFile);
  app.add_option("--rejects", options.rejects_path,
                 "Where rejected records go, appended (default <program>-rejects.ndjson)");
  app.add_option("--batch", options.publisher.batch_max_events, "Events per batch")
      ->default_val(1000)
      ->check(CLI::Range(1, 1000000));
  app.add_option("--batch-bytes", options.publisher.batch_max_bytes, "Bytes per batch, at most")
      ->default_val(1 << 20)
      ->check(CLI::Range(1024, 64 << 20));
  app.add_option("--max-delay", max_delay_s,
                 "Seconds an event may wait in a part-full batch (live feeds)")
      ->default_val(0.25)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate", options.publisher.max_events_per_second,
                 "At most this many events a second (0: as fast as tallyd takes them)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--in-flight", options.publisher.max_in_flight,
                 "Batches sent and not yet acknowledged, at most")
      ->default_val(8)
      ->check(CLI::Range(1, 1024));
  app.add_option("--ack-timeout", ack_timeout_s, "Seconds without an answer before a resend")
      ->default_val(2)
      ->check(CLI::PositiveNumber);
  app.add_option("--attempts", options.publisher.max_attempts,
                 "Sends of one batch before giving up")
      ->default_val(10)
      ->check(CLI::Range(1, 1000));
  app.add_option("--timeout", send_timeout_s,
                 "Seconds to wait for a connection to tallyd before giving up")
      ->default_val(30)
      ->check(CLI::PositiveNumber);
  app.add_option("--progress", progress,
                 "auto (a bar on a terminal, else log lines), bar, log, off")
      ->check(CLI::IsMember({"auto", "bar", "log", "off"}));
  app.add_option("--progress-interval", progress_s, "Seconds between progress log lines")
      ->default_val(10)
      ->check(CLI::PositiveNumber);
  app.add_flag("--strict", options.strict, "Exit 3 if any record was rejected");
  app.footer(program.footer +
             "\n\nExit codes: 0 every event sent was acknowledged (rejected records are in the\n"
             "rejects file and counted in the summary); 1 some batch was never acknowledged\n"
             "(running again is safe: event ids make repeats duplicates); 2 bad usage, input,\n"
             "mapping, or no tallyd; 3 with --strict, some record was rejected.");
  CLI11_PARSE(app, argc, argv);

  const auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n", program.name.c_str(), why.c_str());
    return kExitFailure;
  };
  if (preset.empty() && map_file.empty()) {
    return fail(fmt::format("say how to read the input: --preset ({}) or --map FILE", preset_list));
  }
  const auto read_mapping = [&]() -> Result<Mapping> {
    if (preset.empty()) return Mapping::load(map_file);
    const MappingPreset* found = find_mapping_preset(preset);
    if (found == nullptr) return Status::not_found(fmt::format("no preset {}", preset));
    return Mapping::parse(found->toml, "preset " + preset);
  };
  Result<Mapping> mapping = read_mapping();
  if (!mapping) return fail(std::string(mapping.status().message()));
  if (mapping->has_decision() != program.enforcement) {
    return fail(program.enforcement
                    ? fmt::format("{} has no [decision] section: tally-enforcement maps decisions "
                                  "(upheld -> event, quashed -> revoke); use tally-camera for "
                                  "plain events",
                                  mapping->origin())
                    : fmt::format("{} has a [decision] section: use tally-enforcement for it",
                                  mapping->origin()));
  }
  if (!zone.empty()) {
    Result<TimeZone> named = TimeZone::named(zone);
    if (!named) return fail(std::string(named.status().message()));
    mapping->set_time_zone(*named);
  }
  std::optional<Pseudonymiser> pseudonymiser;
  if (!key_file.empty()) {
    Result<Pseudonymiser> read = Pseudonymiser::from_key_file(key_file);
    if (!read) return fail(std::string(read.status().message()));
    pseudonymiser.emplace(std::move(*read));
    mapping->set_pseudonymiser(&*pseudonymiser);
  }
  Result<std::shared_ptr<const security::CurveCredentials>> curve =
      security::load_credentials(curve_key, server_key);
  if (!curve) return fail(curve.status().to_string());
  options.publisher.curve = std::move(curve).value();
  if (!nats_urls.empty()) {
    Result<std::vector<std::string>> urls = nats::parse_urls(nats_urls);
    if (!urls) return fail("--nats: " + urls.status().to_string());
    options.jetstream.urls = std::move(urls).value();
    options.jetstream.batch_max_events = options.publisher.batch_max_events;
    options.jetstream.ack_timeout = to_ms(ack_timeout_s);
    options.jetstream.client_name = std::string(program.name);
  }
  options.publisher.acknowledged = true;
  options.publisher.ack_timeout = to_ms(ack_timeout_s);
  options.publisher.send_timeout = to_ms(send_timeout_s);
  options.publisher.batch_max_delay = to_ms(max_delay_s);
  options.progress_interval = to_ms(progress_s);
  options.progress = progress == "bar"   ? ProgressMode::kBar
                     : progress == "log" ? ProgressMode::kLog
                     : progress == "off" ? ProgressMode::kOff
                                         : ProgressMode::kAuto;

  // SIGINT and SIGTERM end the run cleanly (what was read is sent and
  // answered, the summary printed). Taken by the watcher's thread: it starts
  // before the run's ZeroMQ threads, so that they inherit the blocked mask.
  SignalWatcher signals({.stop = {SIGINT, SIGTERM}, .reload = {}});
  try {
    AdapterRun run(std::move(options), *mapping, &signals.stop_flag());
    return run.run();
  } catch (const zmq::error_t& bad) {
    // In practice at start: an endpoint ZeroMQ cannot parse.
    return fail(fmt::format("cannot connect: {}", bad.what()));
  }
}

}  // namespace tally::apps
