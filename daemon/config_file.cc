#include "daemon/config_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <limits>
#include <optional>

#include "core/nats_connection.h"
#include "scorer/autoscaler.h"
#include "scorer/rules.h"
#include "storage/journal_writer.h"

namespace tally::daemon {
namespace {

constexpr const char* kDurationForm = "a duration such as \"10m\" (units s, m, h, d, w)";

// The one place tallyd reads a duration: milliseconds, or nullopt.
std::optional<std::int64_t> duration_ms(std::string_view text) {
  const Result<std::int64_t> ms = scorer::parse_duration_ms(text);
  if (!ms) return std::nullopt;
  return *ms;
}

// One key's value in the file, with what an error about it must name.
class Value {
 public:
  Value(const std::string& file, std::string_view key, const toml::node& node,
        const std::filesystem::path& base)
      : file_(file), key_(key), node_(node), base_(base) {}

  // "FILE:LINE:COLUMN" of the value.
  std::string where() const {
    return fmt::format("{}:{}:{}", file_, node_.source().begin.line, node_.source().begin.column);
  }
  [[noreturn]] void refuse(std::string_view why) const {
    throw ConfigError(fmt::format("{}: `{}` {}", where(), key_, why));
  }

  std::string text() const {
    if (const auto* value = node_.as_string()) return value->get();
    refuse("must be a string");
  }
  // A path; a relative one is taken from the config file's directory.
  std::string path() const {
    const std::filesystem::path value(text());
    if (value.is_absolute() || base_.empty()) return value.string();
    return (base_ / value).lexically_normal().string();
  }
  bool flag() const {
    if (const auto* value = node_.as_boolean()) return value->get();
    refuse("must be true or false");
  }
  std::int64_t positive(std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
    const auto* value = node_.as_integer();
    if (value == nullptr || value->get() < 1) refuse("must be a positive integer");
    if (value->get() > max) refuse(fmt::format("must be at most {}", max));
    return value->get();
  }
  const toml::node& node() const { return node_; }
  // A duration through one of the parsers below; its refusal names the key.
  std::int64_t duration(Result<std::int64_t> (*parse)(std::string_view)) const {
    Result<std::int64_t> ms = parse(text());
    if (!ms) refuse(ms.status().message());
    return *ms;
  }

 private:
  const std::string& file_;
  std::string_view key_;
  const toml::node& node_;
  const std::filesystem::path& base_;
};

struct Key {
  std::string_view name;
  void (*apply)(const Value& value, DaemonOptions& options);
};

// Every key the file may hold, in the order the README lists them.
constexpr Key kKeys[] = {
    {"rules", [](const Value& v, DaemonOptions& o) { o.rules_path = v.path(); }},
    {"data_dir", [](const Value& v, DaemonOptions& o) { o.data_dir = v.path(); }},
    {"workers",
     [](const Value& v, DaemonOptions& o) {
       o.scorer.workers = static_cast<std::uint32_t>(v.positive(4096));
     }},
    {"autoscale",
     [](const Value& v, DaemonOptions& o) {
       auto range = scorer::parse_autoscale_range(v.text());
       if (!range) v.refuse(range.status().message());
       o.autoscale.min = range->min;
       o.autoscale.max = range->max;
     }},
    {"autoscale_high",
     [](const Value& v, DaemonOptions& o) {
       const auto* number = v.node().as_floating_point();
       auto high =
           parse_autoscale_high(number != nullptr ? fmt::format("{}", number->get()) : v.text());
       if (!high) v.refuse(high.status().message());
       o.autoscale.high = *high;
     }},
    {"autoscale_after",
     [](const Value& v, DaemonOptions& o) {
       o.autoscale.after = std::chrono::milliseconds(v.duration(parse_autoscale_after_ms));
     }},
    {"ingest_bind", [](const Value& v, DaemonOptions& o) { o.ingest.ingest_bind = v.text(); }},
    {"submit_bind", [](const Value& v, DaemonOptions& o) { o.ingest.submit_bind = v.text(); }},
    {"query_bind", [](const Value& v, DaemonOptions& o) { o.query_bind = v.text(); }},
    {"alerts_bind", [](const Value& v, DaemonOptions& o) { o.alerts_bind = v.text(); }},
    {"metrics_listen", [](const Value& v, DaemonOptions& o) { o.metrics.listen = v.text(); }},
    {"max_line_bytes",
     [](const Value& v, DaemonOptions& o) {
       o.ingest.decoder.max_line_bytes = static_cast<std::size_t>(v.positive());
     }},
    {"max_message_bytes",
     [](const Value& v, DaemonOptions& o) { o.ingest.max_message_bytes = v.positive(); }},
    {"rejects_max_bytes",
     [](const Value& v, DaemonOptions& o) {
       o.ingest.rejects.max_bytes = static_cast<std::uint64_t>(v.positive());
     }},
    {"expected_subjects",
     [](const Value& v, DaemonOptions& o) {
       o.scorer.expected_subjects = static_cast<std::size_t>(v.positive(1'000'000'000));
     }},
    {"max_events_per_subject",
     [](const Value& v, DaemonOptions& o) {
       o.scorer.worker.table.max_events_per_subject =
           static_cast<std::uint32_t>(v.positive(scorer::SubjectTable::kMaxEventsPerSubject));
     }},
    {"rejects_keep",
     [](const Value& v, DaemonOptions& o) {
       o.ingest.rejects.keep = static_cast<unsigned>(v.positive(1000));
     }},
    {"purge_interval_s",
     [](const Value& v, DaemonOptions& o) {
       // Capped so that the milliseconds fit: a year is already "never".
       o.scorer.worker.purge_interval_ms = v.positive(std::int64_t{1} << 40) * 1000;
     }},
    {"receive_high_water_mark",
     [](const Value& v, DaemonOptions& o) {
       o.ingest.receive_high_water_mark =
           static_cast<int>(v.positive(std::numeric_limits<int>::max()));
     }},
    {"journal", [](const Value& v, DaemonOptions& o) { o.journal = v.flag(); }},
    {"fsync",
     [](const Value& v, DaemonOptions& o) {
       if (!storage::parse_fsync_mode(v.text(), o.scorer.worker.journal.fsync)) {
         v.refuse("must be \"batch\", \"interval\" or \"none\"");
       }
     }},
    {"fsync_interval_ms",
     [](const Value& v, DaemonOptions& o) {
       o.scorer.worker.journal.sync_interval_ms = v.positive();
     }},
    {"snapshot_interval",
     [](const Value& v, DaemonOptions& o) {
       o.snapshot_interval_ms = v.duration(parse_snapshot_interval_ms);
     }},
    {"alerts_retain",
     [](const Value& v, DaemonOptions& o) {
       o.alert_log.retain_ms = v.duration(parse_alerts_retain_ms);
     }},
    {"alerts_max_bytes",
     [](const Value& v, DaemonOptions& o) {
       o.alert_log.max_bytes = static_cast<std::uint64_t>(v.positive());
     }},
    {"auth", [](const Value& v, DaemonOptions& o) { o.auth_path = v.path(); }},
    {"insecure", [](const Value& v, DaemonOptions& o) { o.insecure = v.flag(); }},
    {"metrics_auth", [](const Value& v, DaemonOptions& o) { o.metrics_auth_path = v.path(); }},
    {"snapshot_every",
     [](const Value& v, DaemonOptions& o) {
       o.snapshot_every_records = static_cast<std::uint64_t>(v.positive());
     }},
    {"expiry_sweep",
     [](const Value& v, DaemonOptions& o) {
       o.scorer.worker.expiry_sweep_interval_ms = v.duration(parse_expiry_sweep_ms);
     }},
    {"watch_rules", [](const Value& v, DaemonOptions& o) { o.watch_rules = v.flag(); }},
    {"nats",
     [](const Value& v, DaemonOptions& o) {
       auto urls = nats::parse_urls(v.text());
       if (!urls) v.refuse(urls.status().message());
       o.jetstream.urls = std::move(urls).value();
     }},
    {"stream", [](const Value& v, DaemonOptions& o) { o.jetstream.stream = v.text(); }},
    {"partitions", [](const Value& v, DaemonOptions& o) { o.jetstream.partitions = v.text(); }},
    {"node", [](const Value& v, DaemonOptions& o) { o.jetstream.node = v.text(); }},
};

std::string key_names() {
  std::string names;
  for (const Key& key : kKeys) {
    if (!names.empty()) names += ", ";
    names += key.name;
  }
  return names;
}

}  // namespace

Result<std::int64_t> parse_expiry_sweep_ms(std::string_view text) {
  if (text == "0") return std::int64_t{0};
  if (const auto ms = duration_ms(text)) return *ms;
  return Status::invalid_argument(fmt::format("must be {}, or \"0\" for none", kDurationForm));
}

Result<std::int64_t> parse_snapshot_interval_ms(std::string_view text) {
  if (const auto ms = duration_ms(text); ms && *ms > 0) return *ms;
  return Status::invalid_argument(fmt::format("must be {}", kDurationForm));
}

Result<std::int64_t> parse_autoscale_after_ms(std::string_view text) {
  return parse_snapshot_interval_ms(text);
}

Result<std::int64_t> parse_alerts_retain_ms(std::string_view text) {
  return parse_snapshot_interval_ms(text);
}

Result<double> parse_autoscale_high(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0 && value <= 1)) {
    return Status::invalid_argument("must be a utilisation above 0 and at most 1, e.g. 0.8");
  }
  return value;
}

void apply_config_file(const std::string& path, DaemonOptions& options) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, error.source().begin.line,
                                  error.source().begin.column, error.description()));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  for (const auto& [name, node] : table) {
    const Value value(path, name.str(), node, base);
    const Key* key = nullptr;
    for (const Key& candidate : kKeys) {
      if (candidate.name == name.str()) key = &candidate;
    }
    if (key == nullptr) {
      throw ConfigError(fmt::format("{}: unknown key `{}` (expected {})", value.where(), name.str(),
                                    key_names()));
    }
    key->apply(value, options);
  }
}

}  // namespace tally::daemon
