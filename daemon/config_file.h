// tallyd's config file (TOML), and the two durations that both it and the
// flags accept.
//
// The keys are the flags' names with underscores (rules, data_dir, workers,
// ingest_bind, ..., watch_rules); the README's "Configuration" section lists
// each with an example. A flag overrides the file, which overrides the
// default: apps/tallyd.cc reads the file first, then applies the flags given.
//
// Start-up only: errors are exceptions (ConfigError), and tallyd exits 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "daemon/daemon_options.h"

namespace tally::daemon {

// Reads `path` into `options`, key by key; keys absent from the file leave
// their option as it was. Relative paths in it (rules, data_dir) are taken
// from the file's own directory, so a config file and the rules beside it can
// be moved together. Throws ConfigError "FILE:LINE:COLUMN: reason" for a
// syntax error, an unknown key, or a value of the wrong type or range.
void apply_config_file(const std::string& path, DaemonOptions& options);

// --expiry-sweep / expiry_sweep: a duration ("10s", "1m"; units s, m, h, d,
// w), or "0" for no sweep. The milliseconds, or why not.
Result<std::int64_t> parse_expiry_sweep_ms(std::string_view text);
// --snapshot-interval / snapshot_interval: a positive duration ("10m", "1h").
Result<std::int64_t> parse_snapshot_interval_ms(std::string_view text);
// --autoscale-after: a positive duration ("30s", "2m").
Result<std::int64_t> parse_autoscale_after_ms(std::string_view text);
// --alerts-retain / alerts_retain: a positive duration ("7d", "12h").
Result<std::int64_t> parse_alerts_retain_ms(std::string_view text);
// --autoscale-high: a utilisation above 0 and at most 1 ("0.8").
Result<double> parse_autoscale_high(std::string_view text);

}  // namespace tally::daemon
