// RFC 4180 CSV, one record at a time, for camera and back-office exports.
//
// What is accepted: fields separated by a delimiter (',' by default); a field
// may be quoted with '"', and then holds delimiters, line breaks and doubled
// quotes ("" stands for one "); records end with CRLF or LF (a lone CR inside
// an unquoted field is kept); a UTF-8 byte order mark before the first record
// is skipped. Spaces are data (no trimming here: mappings trim).
//
// What is refused, with a reason: a quote inside an unquoted field, anything
// but a delimiter or the end of the record after a closing quote, and a
// quoted field still open at the end of the input.
//
// The parser is fed physical lines (as a LineReader gives them, without
// "\n"); a record whose quoted field spans lines takes several feeds. A
// one-line record is parsed where the line lies (no copy): its unquoted fields
// and raw() point into the fed line, so they stay valid while that line does
// and until the next feed. A record of several lines is gathered in the
// parser's own buffer.
//
// Cost: unquoted fields are scanned eight bytes at a time for the delimiter
// or a quote; quoted ones are unescaped into one buffer per record. Linear
// in the input whatever the quotes: while a quoted field stays open, only
// each new line is scanned, and a record past max_record_bytes is refused.
//
// Thread-safety: none; one parser per input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tally::adapters {

enum class CsvStatus {
  kRecord,       // fields() holds a complete record
  kNeedMore,     // inside a quoted field: feed the next line
  kBadQuote,     // a quote where RFC 4180 allows none; error() says where
  kUnterminated  // finish() found a quoted field still open
};

class CsvParser {
 public:
  // A record (its quoted fields' line breaks included) longer than
  // `max_record_bytes` is refused as a bad quote: no stray quote makes the
  // parser hold the rest of the input. Default 1 MiB.
  static constexpr std::size_t kDefaultMaxRecordBytes = 1 << 20;
  explicit CsvParser(char delimiter = ',', std::size_t max_record_bytes = kDefaultMaxRecordBytes)
      : delimiter_(delimiter), max_record_bytes_(max_record_bytes) {}

  // Feeds one physical line (no "\n"; a trailing "\r" is the CRLF's and is
  // dropped unless inside quotes, where it stays as data with the "\n").
  CsvStatus feed(std::string_view line);
  // At the end of the input: kUnterminated if a record is still open, else
  // kRecord with nothing to read (fields() empty).
  CsvStatus finish();

  const std::vector<std::string_view>& fields() const noexcept { return fields_; }
  const std::string& error() const noexcept { return error_; }
  // True before the first record has been completed (the BOM is skipped there).
  bool at_start() const noexcept { return at_start_; }
  // True while a quoted field is open (the last feed said kNeedMore).
  bool open() const noexcept { return open_; }
  // Physical lines the current (or last) record took.
  std::uint32_t lines_in_record() const noexcept { return lines_; }
  // The raw text of the current (or last) record, lines joined with "\n".
  std::string_view raw() const noexcept { return raw_; }

 private:
  CsvStatus parse();

  char delimiter_;
  std::size_t max_record_bytes_;
  bool at_start_ = true;
  std::string_view raw_;                  // the record's text: the fed line or gathered_
  std::string gathered_;                  // a record of several lines, so far
  std::string values_;                    // quoted fields' values, unescaped, back to back
  std::vector<std::string_view> fields_;  // into raw_ (unquoted) or values_ (quoted)
  std::string error_;
  std::uint32_t lines_ = 0;
  bool open_ = false;  // the last feed left a quoted field open
};

}  // namespace tally::adapters
