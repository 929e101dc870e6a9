// Reads records out of one input: CSV rows (the first row is the header) or
// JSON objects (one a line, or every element of one top-level array, as open
// data APIs return them). Each record comes as a SourceRecord for a Mapping,
// with where it started (for the rejects file) and its raw text.
//
// A record the reader cannot read (a broken quote, more fields than the
// header, a line that is not JSON) comes back as kRejected with a reason, and
// reading goes on with the next one. Blank lines are skipped. In a followed
// CSV file, a row equal to the header (a rotated file starting again) is
// skipped too.
//
// A top-level JSON array is read whole into memory before its first record
// (it cannot be followed); JSON lines and CSV stream in chunks.
//
// Thread-safety: none. Does not own the source.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/byte_source.h"
#include "adapters/csv.h"
#include "adapters/line_reader.h"
#include "adapters/mapping_spec.h"
#include "adapters/record_issue.h"
#include "adapters/source_record.h"

namespace tally::adapters {

class RecordReader {
 public:
  enum class Next { kRecord, kRejected, kIdle, kEnd, kError };

  RecordReader(ByteSource& source, InputFormat format, char delimiter);

  // kRecord: record() is the next record. kRejected: issue() and detail() say
  // why the record at line() could not be read. kIdle: a followed source has
  // nothing more yet. kEnd: done. kError: error() (a read error, a header
  // that is not one), and nothing more comes.
  Next next();

  const SourceRecord& record() const noexcept { return record_; }
  RecordIssue issue() const noexcept { return issue_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& error() const noexcept { return error_; }
  // Where the current record starts: its physical line (from 1), or for an
  // element of a JSON array, its index from 1 (and in_array() is true).
  std::uint64_t line() const noexcept { return line_; }
  bool in_array() const noexcept { return array_ != nullptr; }
  // The current record's text as read (a JSON array element: minified).
  std::string_view raw() const noexcept { return raw_; }
  InputFormat format() const noexcept { return format_; }

 private:
  std::optional<Next> next_csv(std::string_view line);
  Next next_json_line(std::string_view line);
  Next next_array_element();
  bool read_object(simdjson::dom::element element);
  Next start_array(std::string_view first_line);

  LineReader lines_;
  InputFormat format_;
  CsvParser csv_;
  simdjson::dom::parser parser_;

  // Header (CSV) or the current object's keys (JSON).
  std::vector<std::string> keys_;
  std::string header_raw_;
  bool have_header_ = false;
  std::uint64_t keys_version_ = 0;

  std::vector<std::string_view> values_;
  std::vector<bool> raw_json_;
  std::string arena_;  // JSON values written as text
  SourceRecord record_;

  // A top-level JSON array.
  std::unique_ptr<simdjson::padded_string> document_;
  std::unique_ptr<simdjson::dom::array> array_;
  simdjson::dom::array::iterator array_at_, array_end_;
  std::string element_text_;

  RecordIssue issue_ = RecordIssue::kNone;
  std::string detail_, error_;
  std::uint64_t physical_line_ = 0;  // lines read so far
  std::uint64_t line_ = 0;
  std::string_view raw_;
  bool started_ = false;
};

}  // namespace tally::adapters
