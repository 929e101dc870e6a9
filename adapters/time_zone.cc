#include "adapters/time_zone.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

#include "adapters/byte_source.h"
#include "adapters/posix_tz_rule.h"
#include "core/civil_date.h"

namespace tally::adapters {

// A zone's offsets over time: the changes of its TZif table (only those that
// change the offset), extended by its footer rule through kTableEndYear.
struct TimeZone::Table {
  static constexpr std::int64_t kTableEndYear = 2100;

  std::string name;
  std::int32_t initial_offset = 0;  // before the first change
  std::vector<OffsetChange> changes;
  // local_ends[i]: the first local time (as seconds) that is not read in
  // changes[i].before: past both the gap or repeat of change i. Ascending.
  std::vector<std::int64_t> local_ends;
  // After the table: the footer's rule, when it has daylight-saving time...
  std::optional<PosixTzRule> rule;
  // ...else this offset.
  std::int32_t final_offset = 0;

  void add(OffsetChange change) {
    if (change.before == change.after) return;  // a new abbreviation, not a new offset
    changes.push_back(change);
    const std::int64_t end = change.at + std::max(change.before, change.after);
    local_ends.push_back(local_ends.empty() ? end : std::max(local_ends.back(), end));
  }
};

namespace {

constexpr std::string_view kDefaultZoneDir = "/usr/share/zoneinfo";
constexpr std::int32_t kMaxOffset = 26 * 3600;  // beyond any zone's offset, ever

// The changes of `year` and its neighbours by `rule`, in order.
std::vector<OffsetChange> changes_around(const PosixTzRule& rule, std::int64_t year) {
  std::vector<OffsetChange> changes;
  for (std::int64_t y = year - 1; y <= year + 1; ++y) {
    for (const OffsetChange& change : rule.changes_in(y)) changes.push_back(change);
  }
  std::sort(changes.begin(), changes.end(),
            [](const OffsetChange& a, const OffsetChange& b) { return a.at < b.at; });
  return changes;
}

std::int64_t year_of(std::int64_t seconds) {
  const std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  return civil_from_days(days).year;
}

// The local-to-UTC rule of time_zone.h over a list of changes: the first
// change whose local end is past `local` decides, with its `before` offset.
std::optional<std::int64_t> resolve(const std::vector<OffsetChange>& changes, std::int64_t local) {
  for (const OffsetChange& change : changes) {
    if (local < change.at + std::max(change.before, change.after)) return local - change.before;
  }
  return std::nullopt;
}

// Big-endian fields of a TZif file, read in order; `ok` turns false (and
// stays false) when a read runs past the end.
class TzifCursor {
 public:
  explicit TzifCursor(std::string_view data) : data_(data) {}
  bool ok() const noexcept { return ok_; }
  std::size_t at() const noexcept { return at_; }
  std::string_view bytes(std::uint64_t count) {
    if (!ok_ || count > data_.size() - at_) {
      ok_ = false;
      return {};
    }
    const std::string_view out = data_.substr(at_, static_cast<std::size_t>(count));
    at_ += static_cast<std::size_t>(count);
    return out;
  }
  std::uint64_t unsigned_of(std::size_t size) {
    std::uint64_t value = 0;
    for (const char c : bytes(size)) value = value << 8 | static_cast<unsigned char>(c);
    return value;
  }
  std::int64_t signed_of(std::size_t size) {
    const std::uint64_t value = unsigned_of(size);
    const std::uint64_t sign = std::uint64_t{1} << (size * 8 - 1);
    return size == 8 ? static_cast<std::int64_t>(value)
                     : static_cast<std::int64_t>(value ^ sign) - static_cast<std::int64_t>(sign);
  }

 private:
  std::string_view data_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// RFC 8536 section 3.1: the header's counts.
struct TzifCounts {
  char version = 0;
  std::uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;

  bool read(TzifCursor& cursor) {
    if (cursor.bytes(4) != "TZif") return false;
    const std::string_view version_byte = cursor.bytes(1);
    version = version_byte.empty() ? 0 : version_byte[0];
    cursor.bytes(15);
    for (std::uint64_t* count : {&isut, &isstd, &leap, &time, &type, &chars}) {
      *count = cursor.unsigned_of(4);
    }
    return cursor.ok();
  }
  // The data block's size with `time_size`-byte instants.
  std::uint64_t block_bytes(std::uint64_t time_size) const {
    return time * time_size + time + type * 6 + chars + leap * (time_size + 4) + isstd + isut;
  }
};

Result<TimeZone::Table> read_tzif(std::string_view name, std::string_view tzif) {
  const auto invalid = [&](std::string_view why) {
    return Status::invalid_argument(
        fmt::format("time zone \"{}\": not a valid TZif file ({})", name, why));
  };
  TzifCursor cursor(tzif);
  TzifCounts counts;
  if (!counts.read(cursor)) return invalid("no TZif header");
  std::size_t time_size = 4;
  if (counts.version >= '2') {
    // Version 2+: skip the 32-bit data; the 64-bit header and data follow.
    cursor.bytes(counts.block_bytes(4));
    if (!counts.read(cursor)) return invalid("no second header");
    time_size = 8;
  }
  if (counts.leap != 0) return invalid("it counts leap seconds; use a zone without them");
  if (counts.type == 0 || (counts.isut != 0 && counts.isut != counts.type) ||
      (counts.isstd != 0 && counts.isstd != counts.type)) {
    return invalid("inconsistent counts");
  }
  if (counts.block_bytes(time_size) > tzif.size() - cursor.at()) return invalid("truncated");

  std::vector<std::int64_t> instants(counts.time);
  for (std::int64_t& instant : instants) instant = cursor.signed_of(time_size);
  std::vector<std::uint8_t> type_of(counts.time);
  for (std::uint8_t& type : type_of) type = static_cast<std::uint8_t>(cursor.unsigned_of(1));
  std::vector<std::int32_t> offsets(counts.type);
  for (std::int32_t& offset : offsets) {
    offset = static_cast<std::int32_t>(cursor.signed_of(4));
    cursor.bytes(2);  // is-DST flag and abbreviation index: not needed to convert
    if (offset <= -kMaxOffset || offset >= kMaxOffset) return invalid("an impossible UTC offset");
  }
  cursor.bytes(counts.chars + counts.isstd + counts.isut);

  TimeZone::Table table;
  table.name = std::string(name);
  table.initial_offset = offsets[0];
  std::int32_t offset = table.initial_offset;
  for (std::size_t i = 0; i < instants.size(); ++i) {
    if (type_of[i] >= offsets.size()) return invalid("a transition to a missing type");
    if (i > 0 && instants[i] <= instants[i - 1]) return invalid("transitions out of order");
    table.add({instants[i], offset, offsets[type_of[i]]});
    offset = offsets[type_of[i]];
  }
  table.final_offset = offset;

  if (time_size == 8) {
    // The footer: "\n" rule "\n" (empty when the zone has no rule).
    const std::string_view rest = tzif.substr(cursor.at());
    const std::size_t close = rest.find('\n', 1);
    if (rest.empty() || rest[0] != '\n' || close == std::string_view::npos) {
      return invalid("no footer");
    }
    const std::string_view footer = rest.substr(1, close - 1);
    if (!footer.empty()) {
      Result<PosixTzRule> rule = PosixTzRule::parse(footer);
      if (!rule) return invalid(rule.status().message());
      if (rule->has_daylight_saving()) {
        table.rule = *rule;
      } else {
        table.final_offset = rule->standard_offset();
      }
    }
  }
  if (table.rule && !table.changes.empty()) {
    // Most dates a source will hold are near the table's end: list the rule's
    // changes through kTableEndYear, so that they are one search away.
    const std::int64_t last = table.changes.back().at;
    for (std::int64_t year = year_of(last); year <= TimeZone::Table::kTableEndYear; ++year) {
      for (const OffsetChange& change : table.rule->changes_in(year)) {
        if (change.at > table.changes.back().at) table.add(change);
      }
    }
  }
  return table;
}

}  // namespace

Result<TimeZone> TimeZone::from_tzif(std::string_view name, std::string_view tzif) {
  Result<Table> table = read_tzif(name, tzif);
  if (!table) return table.status();
  return TimeZone(std::make_shared<const Table>(std::move(*table)));
}

Result<TimeZone> TimeZone::named(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "utc") return TimeZone();
  const auto unknown = [&](std::string_view why) {
    return Status::not_found(fmt::format(
        "unknown time zone \"{}\"{} (give an IANA name such as America/New_York; Debian's tzdata "
        "package holds them)",
        name, why));
  };
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) {
    return unknown("");
  }
  const char* dir = std::getenv("TZDIR");
  const std::string path =
      fmt::format("{}/{}", dir != nullptr && *dir != '\0' ? dir : kDefaultZoneDir, name);
  const auto bytes = read_small_file(path);
  if (!bytes) return unknown(fmt::format(": no zone file {}", path));
  return from_tzif(name, *bytes);
}

const std::string& TimeZone::name() const noexcept {
  static const std::string kUtc = "UTC";
  return zone_ == nullptr ? kUtc : zone_->name;
}

std::int64_t TimeZone::local_to_utc(std::int64_t local_seconds) const noexcept {
  if (zone_ == nullptr) return local_seconds;
  const Table& table = *zone_;
  const auto end =
      std::upper_bound(table.local_ends.begin(), table.local_ends.end(), local_seconds);
  if (end != table.local_ends.end()) {
    return local_seconds -
           table.changes[static_cast<std::size_t>(end - table.local_ends.begin())].before;
  }
  if (!table.rule) return local_seconds - table.final_offset;
  // Past the listed changes: the rule's changes of this year and its neighbours.
  const auto changes = changes_around(*table.rule, year_of(local_seconds));
  if (const auto utc = resolve(changes, local_seconds)) return *utc;
  return local_seconds - changes.back().after;
}

std::int32_t TimeZone::utc_offset_at(std::int64_t utc_seconds) const noexcept {
  if (zone_ == nullptr) return 0;
  const Table& table = *zone_;
  const auto after = std::upper_bound(
      table.changes.begin(), table.changes.end(), utc_seconds,
      [](std::int64_t instant, const OffsetChange& change) { return instant < change.at; });
  if (after != table.changes.end()) {
    return after == table.changes.begin() ? table.initial_offset : std::prev(after)->after;
  }
  if (!table.rule) return table.final_offset;
  const auto changes = changes_around(*table.rule, year_of(utc_seconds));
  std::int32_t offset = changes.front().before;
  for (const OffsetChange& change : changes) {
    if (change.at <= utc_seconds) offset = change.after;
  }
  return offset;
}

}  // namespace tally::adapters
