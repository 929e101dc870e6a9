// The dead-letter file: every refused line, with its reason, so that nothing
// sent vanishes without trace.
//
// Format (rejected.ndjson in the data directory), one JSON object a line:
//   {"received":"2026-11-25T10:00:00.123Z","channel":"ingest"|"submit",
//    "batch":"<batch id, submit only>","line":3,"reason":"bad_time",
//    "detail":"field `time`: ...","raw":"<the line as received>"}
// `raw` is the line exactly as sent, as a JSON string (invalid UTF-8 replaced
// by U+FFFD). Writes are buffered (stdio) and flushed by the ingest thread
// once per round of received messages and when it stops, so a reject costs
// no syscall of its own; a crash can lose the records of the last round.
//
// Thread-safety: none; owned by the ingest thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/reject_reason.h"

namespace tally::stream {

class RejectedLog {
 public:
  // Opens (appends to) `path`; throws std::runtime_error if it cannot.
  explicit RejectedLog(const std::string& path);
  ~RejectedLog();
  RejectedLog(const RejectedLog&) = delete;
  RejectedLog& operator=(const RejectedLog&) = delete;

  void write(std::string_view channel, std::string_view batch_id, std::uint32_t line,
             RejectReason reason, std::string_view detail, std::string_view raw);
  void flush();
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string record_;  // reused buffer
};

}  // namespace tally::stream
