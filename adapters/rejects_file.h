// The rejects file of an adapter run: one JSON object a line, appended, for
// every record the adapter or tallyd refused, so that nothing is dropped
// without trace. Opened on the first reject (no file when there is none).
//
//   {"input":"a.csv","line":12,"stage":"adapter","reason":"bad_time",
//    "detail":"\"11/31/2020 02:45P\": 2020-11-31 is not a date","record":"<raw text>"}
//   {"input":"a.csv","line":40,"stage":"tallyd","reason":"unknown_type"}
//
// `line` is the record's first physical line, or for an element of a JSON
// array `"element":N`. Lines are buffered; flush() (when the run waits for
// input, and at the end) puts them in the file.
//
// Thread-safety: none; one per run.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace tally::adapters {

struct RejectedRecord {
  std::string_view input;  // the input's name
  std::uint64_t line = 0;
  bool element = false;    // `line` is a JSON array element's index
  std::string_view stage;  // "adapter" or "tallyd"
  std::string_view reason;
  std::string_view detail;  // may be empty
  std::string_view raw;     // the record's text; may be empty
};

class RejectsFile {
 public:
  explicit RejectsFile(std::string path) : path_(std::move(path)) {}
  ~RejectsFile();
  RejectsFile(const RejectsFile&) = delete;
  RejectsFile& operator=(const RejectsFile&) = delete;

  // False once any write has failed (the file cannot be opened or written).
  bool write(const RejectedRecord& record);
  bool flush();

  std::uint64_t written() const noexcept { return written_; }
  const std::string& path() const noexcept { return path_; }
  bool ok() const noexcept { return ok_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string line_;
  std::uint64_t written_ = 0;
  bool ok_ = true;
};

}  // namespace tally::adapters
