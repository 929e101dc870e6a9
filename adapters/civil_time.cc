#include "adapters/civil_time.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>

#include "stream/event_time.h"

namespace tally::adapters {

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  // Howard Hinnant's days_from_civil.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

bool valid_date(std::int64_t year, unsigned month, unsigned day) noexcept {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

void append_rfc3339_ms(std::string& out, std::int64_t epoch_ms) {
  std::int64_t days = epoch_ms / 86400000;
  std::int64_t rest = epoch_ms % 86400000;
  if (rest < 0) {
    rest += 86400000;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const auto year = static_cast<unsigned>(static_cast<std::int64_t>(year_of_era) + era * 400 +
                                          (month <= 2 ? 1 : 0));
  const auto millis = static_cast<unsigned>(rest % 1000);
  const auto seconds = static_cast<unsigned>(rest / 1000);
  char text[24] = {};
  const auto two = [&](std::size_t at, unsigned value) {
    text[at] = static_cast<char>('0' + value / 10 % 10);
    text[at + 1] = static_cast<char>('0' + value % 10);
  };
  two(0, year / 100);
  two(2, year % 100);
  text[4] = '-';
  two(5, month);
  text[7] = '-';
  two(8, day);
  text[10] = 'T';
  two(11, seconds / 3600);
  text[13] = ':';
  two(14, seconds / 60 % 60);
  text[16] = ':';
  two(17, seconds % 60);
  std::size_t size = 19;
  if (millis != 0) {
    text[19] = '.';
    text[20] = static_cast<char>('0' + millis / 100);
    two(21, millis % 100);
    size = 23;
  }
  text[size++] = 'Z';
  out.append(text, size);
}

// ---- TimeZone ------------------------------------------------------------------

namespace {
std::mutex zone_mutex;
std::string process_zone;  // the named zone TZ was set to, if any
}  // namespace

std::optional<TimeZone> TimeZone::named(const std::string& name, std::string& error) {
  TimeZone zone;
  if (name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "utc") return zone;
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
    error =
        fmt::format("unknown time zone \"{}\" (give an IANA name such as America/New_York)", name);
    return std::nullopt;
  }
  const char* dir = std::getenv("TZDIR");
  const std::string path = fmt::format("{}/{}", dir != nullptr ? dir : "/usr/share/zoneinfo", name);
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  if (!file.read(magic, 4) || std::string_view(magic, 4) != "TZif") {
    error = fmt::format(
        "unknown time zone \"{}\": no zone file {} (give an IANA name such as "
        "America/New_York; Debian's tzdata package holds them)",
        name, path);
    return std::nullopt;
  }
  std::lock_guard lock(zone_mutex);
  if (!process_zone.empty() && process_zone != name) {
    error = fmt::format("time zone \"{}\" asked for while \"{}\" is in use: one zone per process",
                        name, process_zone);
    return std::nullopt;
  }
  if (process_zone.empty()) {
    ::setenv("TZ", (":" + name).c_str(), 1);
    ::tzset();
    process_zone = name;
  }
  zone.name_ = name;
  return zone;
}

std::int64_t TimeZone::to_epoch_ms(std::int64_t year, unsigned month, unsigned day, unsigned hour,
                                   unsigned minute, unsigned second, unsigned millisecond) const {
  std::int64_t seconds = 0;
  if (name_.empty()) {
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  } else {
    std::tm local{};
    local.tm_year = static_cast<int>(year - 1900);
    local.tm_mon = static_cast<int>(month) - 1;
    local.tm_mday = static_cast<int>(day);
    local.tm_hour = static_cast<int>(hour);
    local.tm_min = static_cast<int>(minute);
    local.tm_sec = static_cast<int>(second);
    local.tm_isdst = -1;  // let the zone's rules say
    seconds = static_cast<std::int64_t>(std::mktime(&local));
  }
  return seconds * 1000 + millisecond;
}

// ---- TimeFormat ----------------------------------------------------------------

std::optional<TimeFormat> TimeFormat::parse(std::string_view format, std::string& error) {
  TimeFormat result;
  result.format_ = std::string(format);
  if (format == "rfc3339") return result;
  if (format == "epoch_ms") {
    result.kind_ = Kind::kEpochMs;
    return result;
  }
  if (format == "epoch_s") {
    result.kind_ = Kind::kEpochS;
    return result;
  }
  result.kind_ = Kind::kPattern;
  bool year = false, month = false, day = false, hour12 = false, am_pm = false;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (i + 1 >= format.size()) {
      error = fmt::format("time format \"{}\" ends with a lone %", format);
      return std::nullopt;
    }
    switch (format[++i]) {
      case 'Y':
        year = true;
        break;
      case 'm':
        month = true;
        break;
      case 'd':
        day = true;
        break;
      case 'I':
        hour12 = true;
        break;
      case 'p':
        am_pm = true;
        break;
      case 'H':
      case 'M':
      case 'S':
      case 'f':
      case '%':
        break;
      default:
        error = fmt::format(
            "time format \"{}\": unknown field %{} (known: %Y %m %d %H %I %M %S "
            "%f %p %%; or rfc3339, epoch_ms, epoch_s)",
            format, format[i]);
        return std::nullopt;
    }
  }
  if (!year || !month || !day) {
    error = fmt::format("time format \"{}\" needs a date: %Y, %m and %d", format);
    return std::nullopt;
  }
  if (hour12 != am_pm) {
    error = fmt::format("time format \"{}\": %I (12-hour) and %p (AM/PM) go together", format);
    return std::nullopt;
  }
  return result;
}

namespace {

// Reads 1..max_digits digits at text[i]; nullopt if none.
std::optional<unsigned> read_number(std::string_view text, std::size_t& i, std::size_t max_digits) {
  unsigned value = 0;
  std::size_t digits = 0;
  while (i < text.size() && digits < max_digits &&
         std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return value;
}

std::optional<std::int64_t> read_integer(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::size_t i = text.front() == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return text.front() == '-' ? -value : value;
}

}  // namespace

std::optional<std::int64_t> TimeFormat::read(std::string_view text, const TimeZone& zone,
                                             std::string& error) const {
  switch (kind_) {
    case Kind::kRfc3339: {
      if (auto ms = stream::parse_rfc3339_ms(text)) return ms;
      error = fmt::format("\"{}\" is not an RFC 3339 time", text);
      return std::nullopt;
    }
    case Kind::kEpochMs:
    case Kind::kEpochS: {
      const auto value = read_integer(text);
      const std::int64_t scale = kind_ == Kind::kEpochS ? 1000 : 1;
      if (!value || *value > stream::kLatestTimeMs / scale ||
          *value < stream::kEarliestTimeMs / scale) {
        error = fmt::format("\"{}\" is not epoch {}", text,
                            kind_ == Kind::kEpochS ? "seconds" : "milliseconds");
        return std::nullopt;
      }
      return *value * scale;
    }
    case Kind::kPattern:
      break;
  }
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millisecond = 0;
  int pm = -1;  // %p: 0 AM, 1 PM
  const std::string_view format = format_;
  std::size_t t = 0;
  const auto mismatch = [&] {
    error = fmt::format("\"{}\" does not match the time format \"{}\"", text, format);
    return std::nullopt;
  };
  for (std::size_t f = 0; f < format.size(); ++f) {
    const char c = format[f];
    if (c == ' ') {
      if (t >= text.size() || text[t] != ' ') return mismatch();
      while (t < text.size() && text[t] == ' ') ++t;
      continue;
    }
    if (c != '%' || format[f + 1] == '%') {
      if (c == '%') ++f;
      if (t >= text.size() || text[t] != c) return mismatch();
      ++t;
      continue;
    }
    const char field = format[++f];
    std::optional<unsigned> value;
    switch (field) {
      case 'Y': {
        const std::size_t from = t;
        value = read_number(text, t, 4);
        if (value && t - from != 4) return mismatch();
        year = value.value_or(0);
        break;
      }
      case 'm':
        value = read_number(text, t, 2);
        month = value.value_or(0);
        break;
      case 'd':
        value = read_number(text, t, 2);
        day = value.value_or(0);
        break;
      case 'H':
      case 'I':
        value = read_number(text, t, 2);
        hour = value.value_or(0);
        break;
      case 'M':
        value = read_number(text, t, 2);
        minute = value.value_or(0);
        break;
      case 'S':
        value = read_number(text, t, 2);
        second = value.value_or(0);
        break;
      case 'f': {
        const std::size_t from = t;
        value = read_number(text, t, 9);
        if (value) {
          unsigned digits = static_cast<unsigned>(t - from);
          unsigned fraction = *value;
          for (; digits > 3; --digits) fraction /= 10;  // to milliseconds: truncate
          for (; digits < 3; ++digits) fraction *= 10;
          millisecond = fraction;
        }
        break;
      }
      case 'p': {
        if (t >= text.size()) return mismatch();
        const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(text[t])));
        if (letter != 'A' && letter != 'P') return mismatch();
        pm = letter == 'P' ? 1 : 0;
        ++t;
        if (t < text.size() && (text[t] == 'M' || text[t] == 'm')) ++t;
        value = 0;
        break;
      }
    }
    if (!value) return mismatch();
  }
  if (t != text.size()) return mismatch();
  if (pm >= 0) {
    if (hour > 12) {
      error = fmt::format("\"{}\": hour {} is not a 12-hour clock hour", text, hour);
      return std::nullopt;
    }
    hour = hour % 12 + (pm == 1 ? 12 : 0);  // 12 AM is 0, 12 PM is 12; 00 reads as 12
  }
  if (!valid_date(year, month, day)) {
    error = fmt::format("\"{}\": {:04}-{:02}-{:02} is not a date", text, year, month, day);
    return std::nullopt;
  }
  if (hour > 23 || minute > 59 || second > 59) {
    error =
        fmt::format("\"{}\": {:02}:{:02}:{:02} is not a time of day", text, hour, minute, second);
    return std::nullopt;
  }
  return zone.to_epoch_ms(year, month, day, hour, minute, second, millisecond);
}

}  // namespace tally::adapters
