#include "adapters/csv.h"

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <cstring>

namespace tally::adapters {
namespace {

// The first position at or after `from` holding `delimiter` or '"'; the
// text's size if none. Eight bytes at a time (the "has a zero byte" trick on
// the bytes xor'ed with each sought one): rows are mostly plain text, and this
// scan was the parser's largest cost done byte by byte.
static_assert(std::endian::native == std::endian::little, "the scan below reads bytes in order");

std::size_t find_delimiter_or_quote(std::string_view text, std::size_t from, char delimiter) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const std::uint64_t delimiters = kOnes * static_cast<unsigned char>(delimiter);
  const std::uint64_t quotes = kOnes * static_cast<unsigned char>('"');
  std::size_t i = from;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t bytes;
    std::memcpy(&bytes, text.data() + i, 8);
    const std::uint64_t d = bytes ^ delimiters, q = bytes ^ quotes;
    // Exact for the lowest matching byte, the first in memory on a
    // little-endian machine, which is the one wanted (a borrow can only mark
    // bytes above a true match).
    const std::uint64_t found = ((d - kOnes) & ~d & kHigh) | ((q - kOnes) & ~q & kHigh);
    if (found != 0) return i + static_cast<std::size_t>(std::countr_zero(found)) / 8;
  }
  for (; i < text.size(); ++i) {
    if (text[i] == delimiter || text[i] == '"') return i;
  }
  return text.size();
}

}  // namespace

namespace {

// Whether a quoted field is still open after `line`, given whether one was
// open before it: a quote opens a field, and inside one a quote closes it
// unless doubled ("" is a quote in the value).
bool still_open_after(std::string_view line, bool open) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '"') continue;
    if (open && i + 1 < line.size() && line[i + 1] == '"') {
      ++i;
      continue;
    }
    open = !open;
  }
  return open;
}

}  // namespace

CsvStatus CsvParser::feed(std::string_view line) {
  if (!open_) {
    lines_ = 1;
    if (at_start_ && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    raw_ = line;
  } else {
    gathered_.push_back('\n');
    gathered_.append(line);
    raw_ = gathered_;
    ++lines_;
    // Only the new line is scanned while the field stays open, so a record
    // of many lines costs its length once, not its length per line (a stray
    // quote would otherwise make the rest of the file quadratic).
    if (gathered_.size() > max_record_bytes_) {
      open_ = false;
      fields_.clear();
      error_ = fmt::format(
          "a quoted field runs past {} bytes over {} lines (a stray quote?); the record is "
          "dropped and reading goes on at the next line",
          max_record_bytes_, lines_);
      return CsvStatus::kBadQuote;
    }
    if (still_open_after(line, true)) return CsvStatus::kNeedMore;
  }
  const CsvStatus status = parse();
  if (status == CsvStatus::kNeedMore && !open_) {
    gathered_.assign(line);  // the next feed may move the line: keep it
    raw_ = gathered_;
  }
  open_ = status == CsvStatus::kNeedMore;
  if (status == CsvStatus::kRecord) at_start_ = false;
  return status;
}

CsvStatus CsvParser::finish() {
  fields_.clear();
  if (!open_) return CsvStatus::kRecord;
  open_ = false;
  error_ = "a quoted field is still open at the end of the input";
  return CsvStatus::kUnterminated;
}

CsvStatus CsvParser::parse() {
  fields_.clear();
  values_.clear();
  error_.clear();
  // Unquoted fields are views of raw_; quoted ones are unescaped into
  // values_, reserved so that it never moves while views point into it.
  values_.reserve(raw_.size());
  const std::string_view text = raw_;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (true) {
    if (i < n && text[i] == '"') {
      // Quoted: up to the closing quote; "" is one quote.
      const std::size_t opened = i++;
      const std::size_t start = values_.size();
      while (true) {
        const std::size_t quote = text.find('"', i);
        if (quote == std::string_view::npos) return CsvStatus::kNeedMore;
        values_.append(text.substr(i, quote - i));
        i = quote + 1;
        if (i < n && text[i] == '"') {
          values_.push_back('"');
          ++i;
          continue;
        }
        break;
      }
      fields_.emplace_back(values_.data() + start, values_.size() - start);
      // After the closing quote: a delimiter, the end, or the CRLF's CR at the end.
      if (i < n && text[i] == '\r' && i + 1 == n) ++i;
      if (i < n && text[i] != delimiter_) {
        error_ = fmt::format("field {} (quoted from column {}) has text after its closing quote",
                             fields_.size(), opened + 1);
        return CsvStatus::kBadQuote;
      }
    } else {
      const std::size_t from = i;
      i = find_delimiter_or_quote(text, i, delimiter_);
      if (i < n && text[i] == '"') {
        error_ = fmt::format("field {} has a quote inside an unquoted value (column {})",
                             fields_.size() + 1, i + 1);
        return CsvStatus::kBadQuote;
      }
      std::size_t to = i;
      if (to == n && to > from && text[to - 1] == '\r') --to;  // CRLF
      fields_.push_back(text.substr(from, to - from));
    }
    if (i >= n) break;
    ++i;  // the delimiter
  }
  return CsvStatus::kRecord;
}

}  // namespace tally::adapters
