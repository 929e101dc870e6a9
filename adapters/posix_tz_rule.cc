#include "adapters/posix_tz_rule.h"

#include <fmt/format.h>

#include <optional>

#include "core/civil_date.h"

namespace tally::adapters {

// Reads the rule's text left to right; each method consumes what it accepts.
struct PosixTzRule::Reader {
  std::string_view text;
  std::size_t at = 0;

  bool done() const noexcept { return at == text.size(); }
  char peek() const noexcept { return at < text.size() ? text[at] : '\0'; }
  bool take(char c) noexcept {
    if (peek() != c) return false;
    ++at;
    return true;
  }
  static bool letter(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // A zone abbreviation: 3+ letters, or <...> with letters, digits, + and -.
  bool name() noexcept {
    const std::size_t from = at;
    if (take('<')) {
      while (letter(peek()) || digit(peek()) || peek() == '+' || peek() == '-') ++at;
      return at - from - 1 >= 3 && take('>');
    }
    while (letter(peek())) ++at;
    return at - from >= 3;
  }
  std::optional<unsigned> number(unsigned max) noexcept {
    const std::size_t from = at;
    unsigned value = 0;
    while (digit(peek()) && at - from < 3)
      value = value * 10 + static_cast<unsigned>(text[at++] - '0');
    if (at == from || value > max) return std::nullopt;
    return value;
  }
  // [+|-]hh[:mm[:ss]] in seconds.
  std::optional<std::int32_t> duration(unsigned max_hours) noexcept {
    const bool negative = take('-');
    if (!negative) take('+');
    const auto hours = number(max_hours);
    if (!hours) return std::nullopt;
    auto seconds = static_cast<std::int32_t>(*hours * 3600);
    if (take(':')) {
      const auto minutes = number(59);
      if (!minutes) return std::nullopt;
      seconds += static_cast<std::int32_t>(*minutes * 60);
      if (take(':')) {
        const auto rest = number(59);
        if (!rest) return std::nullopt;
        seconds += static_cast<std::int32_t>(*rest);
      }
    }
    return negative ? -seconds : seconds;
  }
  std::optional<Date> date() noexcept {
    Date date{Date::Kind::kDayOfYear, 0, 0, 0, 0, 7200};
    if (take('M')) {
      date.kind = Date::Kind::kMonthWeekDay;
      const auto month = number(12);
      if (!month || *month == 0 || !take('.')) return std::nullopt;
      const auto week = number(5);
      if (!week || *week == 0 || !take('.')) return std::nullopt;
      const auto weekday = number(6);
      if (!weekday) return std::nullopt;
      date.month = *month;
      date.week = *week;
      date.weekday = *weekday;
    } else {
      if (take('J')) date.kind = Date::Kind::kJulianNoLeap;
      const auto day = number(365);
      if (!day || (date.kind == Date::Kind::kJulianNoLeap && *day == 0)) return std::nullopt;
      date.day = *day;
    }
    if (take('/')) {
      const auto time = duration(167);
      if (!time) return std::nullopt;
      date.time = *time;
    }
    return date;
  }
};

Result<PosixTzRule> PosixTzRule::parse(std::string_view text) {
  const auto refuse = [&](std::string_view what) {
    return Status::invalid_argument(fmt::format("\"{}\" is not a POSIX TZ rule: {}", text, what));
  };
  Reader reader{text};
  PosixTzRule rule;
  if (!reader.name()) return refuse("no standard time name");
  const auto standard = reader.duration(24);
  if (!standard) return refuse("no standard time offset");
  rule.std_offset_ = -*standard;  // POSIX counts west of Greenwich as positive
  if (reader.done()) return rule;
  if (!reader.name()) return refuse("a bad daylight-saving time name");
  rule.has_dst_ = true;
  rule.dst_offset_ = rule.std_offset_ + 3600;
  if (!reader.done() && reader.peek() != ',') {
    const auto daylight = reader.duration(24);
    if (!daylight) return refuse("a bad daylight-saving time offset");
    rule.dst_offset_ = -*daylight;
  }
  if (reader.take(',')) {
    const auto start = reader.date();
    if (!start || !reader.take(',')) return refuse("a bad start date");
    const auto end = reader.date();
    if (!end) return refuse("a bad end date");
    rule.start_ = *start;
    rule.end_ = *end;
  }
  if (!reader.done()) return refuse("text after the rule");
  return rule;
}

std::int64_t PosixTzRule::instant(const Date& date, std::int64_t year,
                                  std::int32_t wall_offset) noexcept {
  const std::int64_t new_year = days_from_civil(year, 1, 1);
  std::int64_t day = 0;
  switch (date.kind) {
    case Date::Kind::kJulianNoLeap:
      day = new_year + date.day - 1 + (is_leap_year(year) && date.day >= 60 ? 1 : 0);
      break;
    case Date::Kind::kDayOfYear:
      day = new_year + date.day;
      break;
    case Date::Kind::kMonthWeekDay: {
      const std::int64_t first = days_from_civil(year, date.month, 1);
      const unsigned to_weekday = (date.weekday + 7 - weekday_from_days(first)) % 7;
      day = first + to_weekday + 7 * (date.week - 1);
      // Week 5 is the last such weekday, which may be the fourth.
      if (day >= first + days_in_month(year, date.month)) day -= 7;
      break;
    }
  }
  return day * 86400 + date.time - wall_offset;
}

std::array<OffsetChange, 2> PosixTzRule::changes_in(std::int64_t year) const noexcept {
  const OffsetChange start{instant(start_, year, std_offset_), std_offset_, dst_offset_};
  const OffsetChange end{instant(end_, year, dst_offset_), dst_offset_, std_offset_};
  if (end.at < start.at) return {end, start};
  return {start, end};
}

}  // namespace tally::adapters
