#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>

#include "daemon/daemon.h"

namespace tally::daemon {
namespace {

std::string where(const std::string& path, const toml::node& node) {
  return fmt::format("{}:{}:{}", path, node.source().begin.line, node.source().begin.column);
}

}  // namespace

void apply_config_file(const std::string& path, DaemonOptions& options) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, error.source().begin.line,
                                  error.source().begin.column, error.description()));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  const auto relative_to_file = [&](const std::string& value) {
    const std::filesystem::path p(value);
    return p.is_absolute() || base.empty() ? value : (base / p).lexically_normal().string();
  };
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const auto text = [&]() -> std::string {
      if (const auto* value = node.as_string()) return value->get();
      throw ConfigError(fmt::format("{}: `{}` must be a string", where(path, node), name));
    };
    if (name == "rules") {
      options.rules_path = relative_to_file(text());
    } else if (name == "data_dir") {
      options.data_dir = relative_to_file(text());
    } else if (name == "ingest_bind") {
      options.ingest.ingest_bind = text();
    } else if (name == "submit_bind") {
      options.ingest.submit_bind = text();
    } else if (name == "query_bind") {
      options.query_bind = text();
    } else if (name == "alerts_bind") {
      options.alerts_bind = text();
    } else if (name == "metrics_listen") {
      options.metrics.listen = text();
    } else if (name == "journal" || name == "watch_rules") {
      const auto* value = node.as_boolean();
      if (value == nullptr) {
        throw ConfigError(fmt::format("{}: `{}` must be true or false", where(path, node), name));
      }
      (name == "journal" ? options.journal : options.watch_rules) = value->get();
    } else if (name == "fsync") {
      if (!scorer::parse_fsync_mode(text(), options.scorer.worker.journal.fsync)) {
        throw ConfigError(fmt::format("{}: `fsync` must be \"batch\", \"interval\" or \"none\"",
                                      where(path, node)));
      }
    } else if (name == "expiry_sweep") {
      const std::string value = text();
      const std::int64_t ms = value == "0" ? 0 : scorer::parse_duration_ms(value);
      if (ms < 0) {
        throw ConfigError(fmt::format(
            "{}: `expiry_sweep` must be a duration such as \"10s\" (units s, m, h, d, w), or \"0\"",
            where(path, node)));
      }
      options.scorer.worker.expiry_sweep_interval_ms = ms;
    } else if (name == "snapshot_interval") {
      const std::int64_t ms = scorer::parse_duration_ms(text());
      if (ms <= 0) {
        throw ConfigError(fmt::format(
            "{}: `snapshot_interval` must be a duration such as \"10m\" (units s, m, h, d, w)",
            where(path, node)));
      }
      options.snapshot_interval_ms = ms;
    } else if (name == "workers" || name == "max_line_bytes" || name == "purge_interval_s" ||
               name == "receive_high_water_mark" || name == "snapshot_every" ||
               name == "fsync_interval_ms") {
      const auto* value = node.as_integer();
      if (value == nullptr || value->get() < 1) {
        throw ConfigError(
            fmt::format("{}: `{}` must be a positive integer", where(path, node), name));
      }
      const auto number = value->get();
      if (name == "workers") {
        if (number > 4096) {
          throw ConfigError(fmt::format("{}: `workers` must be at most 4096", where(path, node)));
        }
        options.scorer.workers = static_cast<std::uint32_t>(number);
      } else if (name == "max_line_bytes") {
        options.ingest.decoder.max_line_bytes = static_cast<std::size_t>(number);
      } else if (name == "purge_interval_s") {
        options.scorer.worker.purge_interval_ms = number * 1000;
      } else if (name == "snapshot_every") {
        options.snapshot_every_records = static_cast<std::uint64_t>(number);
      } else if (name == "fsync_interval_ms") {
        options.scorer.worker.journal.sync_interval_ms = number;
      } else {
        options.ingest.receive_high_water_mark = static_cast<int>(number);
      }
    } else {
      throw ConfigError(fmt::format(
          "{}: unknown key `{}` (expected rules, data_dir, workers, ingest_bind, submit_bind, "
          "query_bind, alerts_bind, metrics_listen, max_line_bytes, purge_interval_s, "
          "receive_high_water_mark, journal, fsync, fsync_interval_ms, snapshot_interval, "
          "snapshot_every, expiry_sweep, watch_rules)",
          where(path, node), name));
    }
  }
}

}  // namespace tally::daemon
