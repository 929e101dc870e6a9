#include "adapters/time_format.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "core/civil_date.h"
#include "core/event_time.h"

namespace tally::adapters {

Result<TimeFormat> TimeFormat::parse(std::string_view format) {
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
      return Status::invalid_argument(fmt::format("time format \"{}\" ends with a lone %", format));
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
        return Status::invalid_argument(
            fmt::format("time format \"{}\": unknown field %{} (known: %Y %m %d %H %I %M %S "
                        "%f %p %%; or rfc3339, epoch_ms, epoch_s)",
                        format, format[i]));
    }
  }
  if (!year || !month || !day) {
    return Status::invalid_argument(
        fmt::format("time format \"{}\" needs a date: %Y, %m and %d", format));
  }
  if (hour12 != am_pm) {
    return Status::invalid_argument(
        fmt::format("time format \"{}\": %I (12-hour) and %p (AM/PM) go together", format));
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

Result<std::int64_t> TimeFormat::read(std::string_view text, const TimeZone& zone) const {
  switch (kind_) {
    case Kind::kRfc3339: {
      if (const auto ms = parse_rfc3339_ms(text)) return *ms;
      return Status::invalid_argument(fmt::format("\"{}\" is not an RFC 3339 time", text));
    }
    case Kind::kEpochMs:
    case Kind::kEpochS: {
      const auto value = read_integer(text);
      const std::int64_t scale = kind_ == Kind::kEpochS ? 1000 : 1;
      if (!value || *value > kLatestTimeMs / scale || *value < kEarliestTimeMs / scale) {
        return Status::invalid_argument(fmt::format(
            "\"{}\" is not epoch {}", text, kind_ == Kind::kEpochS ? "seconds" : "milliseconds"));
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
    return Status::invalid_argument(
        fmt::format("\"{}\" does not match the time format \"{}\"", text, format));
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
      return Status::invalid_argument(
          fmt::format("\"{}\": hour {} is not a 12-hour clock hour", text, hour));
    }
    hour = hour % 12 + (pm == 1 ? 12 : 0);  // 12 AM is 0, 12 PM is 12; 00 reads as 12
  }
  if (!valid_date(year, month, day)) {
    return Status::invalid_argument(
        fmt::format("\"{}\": {:04}-{:02}-{:02} is not a date", text, year, month, day));
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return Status::invalid_argument(
        fmt::format("\"{}\": {:02}:{:02}:{:02} is not a time of day", text, hour, minute, second));
  }
  const std::int64_t local_seconds =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return zone.local_to_utc(local_seconds) * 1000 + millisecond;
}

}  // namespace tally::adapters
