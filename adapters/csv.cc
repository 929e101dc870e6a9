#include "adapters/csv.h"

#include <fmt/format.h>

namespace tally::adapters {

CsvStatus CsvParser::feed(std::string_view line) {
  if (!open_) {
    raw_.clear();
    lines_ = 0;
    if (at_start_ && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  } else {
    raw_.push_back('\n');
  }
  raw_.append(line);
  ++lines_;
  const CsvStatus status = parse();
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
      while (i < n && text[i] != delimiter_) {
        if (text[i] == '"') {
          error_ = fmt::format("field {} has a quote inside an unquoted value (column {})",
                               fields_.size() + 1, i + 1);
          return CsvStatus::kBadQuote;
        }
        ++i;
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
