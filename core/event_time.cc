// RFC 3339 <-> epoch milliseconds by calendar arithmetic alone (no timegm,
// no locale, no time zone database): core/civil_date.h, exact for the
// proleptic Gregorian calendar at any date.
#include "core/event_time.h"

#include <cstdio>

#include "core/civil_date.h"

namespace tally {
namespace {

static_assert(kEarliestTimeMs == days_from_civil(0, 1, 1) * 86400000);
static_assert(kLatestTimeMs == days_from_civil(10000, 1, 1) * 86400000 - 1);

// Digits at fixed positions: every one is read, and `bad` collects whether
// any was not a digit, so that the common, valid case takes no branch per
// character (this parser runs once per event on the ingest thread).
class FixedDigits {
 public:
  explicit FixedDigits(const char* text) noexcept : text_(text) {}
  unsigned two(std::size_t at) noexcept { return one(at) * 10 + one(at + 1); }
  unsigned four(std::size_t at) noexcept { return two(at) * 100 + two(at + 2); }
  bool all_digits() const noexcept { return !bad_; }

 private:
  unsigned one(std::size_t at) noexcept {
    const unsigned digit = static_cast<unsigned char>(text_[at]) - unsigned{'0'};
    bad_ |= digit > 9;
    return digit;
  }
  const char* text_;
  bool bad_ = false;
};

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) noexcept {
  // 0         1         2
  // 0123456789012345678901234
  // YYYY-MM-DDTHH:MM:SS[.f...](Z|+hh:mm)   at least 20 bytes
  if (text.size() < 20) return std::nullopt;
  const char* p = text.data();
  FixedDigits digits(p);
  const unsigned year = digits.four(0);
  const unsigned month = digits.two(5);
  const unsigned day = digits.two(8);
  const unsigned hour = digits.two(11);
  const unsigned minute = digits.two(14);
  const unsigned second = digits.two(17);
  if (!digits.all_digits() || p[4] != '-' || p[7] != '-' || p[13] != ':' || p[16] != ':' ||
      (p[10] != 'T' && p[10] != 't' && p[10] != ' ')) {
    return std::nullopt;
  }
  if (!valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (p[pos] == '.') {
    // Any number of digits; those past milliseconds are truncated.
    const std::size_t first = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - first < 3) millis = millis * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == first) return std::nullopt;
    for (std::size_t count = pos - first; count < 3; ++count) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  const std::size_t rest = text.size() - pos;
  if (rest == 1 && (p[pos] == 'Z' || p[pos] == 'z')) {
    // UTC
  } else if (rest == 6 && (p[pos] == '+' || p[pos] == '-') && p[pos + 3] == ':') {
    FixedDigits offset(p + pos);
    const unsigned offset_hours = offset.two(1);
    const unsigned offset_mins = offset.two(4);
    if (!offset.all_digits() || offset_hours > 23 || offset_mins > 59) return std::nullopt;
    offset_minutes = static_cast<std::int64_t>(offset_hours * 60 + offset_mins);
    if (p[pos] == '-') offset_minutes = -offset_minutes;
  } else {
    return std::nullopt;
  }
  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  const std::int64_t epoch_ms = seconds * 1000 + millis;
  // Only an offset can carry a four-digit date outside the range.
  if (epoch_ms < kEarliestTimeMs || epoch_ms > kLatestTimeMs) return std::nullopt;
  return epoch_ms;
}

namespace {

// Splits epoch milliseconds into a date and the milliseconds into that day,
// by floor division, so that the time of day is never negative.
struct DateAndTime {
  CivilDate date;
  std::int64_t day_ms;
};

DateAndTime split_epoch_ms(std::int64_t epoch_ms) noexcept {
  std::int64_t days = epoch_ms / 86400000;
  std::int64_t rest = epoch_ms % 86400000;
  if (rest < 0) {
    rest += 86400000;
    --days;
  }
  return {civil_from_days(days), rest};
}

// Outside the RFC 3339 range: the year with the digits and sign it needs.
std::string format_out_of_range(const DateAndTime& split) {
  const CivilDate& date = split.date;
  const auto hour = static_cast<int>(split.day_ms / 3600000);
  const auto minute = static_cast<int>(split.day_ms / 60000 % 60);
  const auto second = static_cast<int>(split.day_ms / 1000 % 60);
  const auto millis = static_cast<int>(split.day_ms % 1000);
  // "%04lld" would write year -1 as "-001"; the sign goes before four digits.
  const char* sign = date.year < 0 ? "-" : "";
  const auto year = static_cast<long long>(date.year < 0 ? -date.year : date.year);
  char buffer[48];
  if (millis != 0) {
    std::snprintf(buffer, sizeof buffer, "%s%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", sign, year,
                  date.month, date.day, hour, minute, second, millis);
  } else {
    std::snprintf(buffer, sizeof buffer, "%s%04lld-%02u-%02uT%02d:%02d:%02dZ", sign, year,
                  date.month, date.day, hour, minute, second);
  }
  return buffer;
}

}  // namespace

void append_rfc3339_ms(std::string& out, std::int64_t epoch_ms) {
  const DateAndTime split = split_epoch_ms(epoch_ms);
  if (epoch_ms < kEarliestTimeMs || epoch_ms > kLatestTimeMs) {
    out += format_out_of_range(split);
    return;
  }
  const auto year = static_cast<unsigned>(split.date.year);
  const auto millis = static_cast<unsigned>(split.day_ms % 1000);
  const auto seconds = static_cast<unsigned>(split.day_ms / 1000);
  // 0         1         2
  // 0123456789012345678901234
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  char text[24];
  const auto two = [&](std::size_t at, unsigned value) {
    text[at] = static_cast<char>('0' + value / 10 % 10);
    text[at + 1] = static_cast<char>('0' + value % 10);
  };
  two(0, year / 100);
  two(2, year % 100);
  text[4] = '-';
  two(5, split.date.month);
  text[7] = '-';
  two(8, split.date.day);
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

std::string format_rfc3339_ms(std::int64_t epoch_ms) {
  std::string out;
  append_rfc3339_ms(out, epoch_ms);
  return out;
}

}  // namespace tally
