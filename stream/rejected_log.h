// The dead-letter file: every refused line, with its reason, so that nothing
// sent vanishes without trace; and bounded, so that no input can fill the
// disk through it.
//
// Format (rejected.ndjson in the data directory), one JSON object a line:
//   {"received":"2026-11-25T10:00:00.123Z","channel":"ingest"|"submit",
//    "batch":"<batch id, submit only>","line":3,"reason":"bad_time",
//    "detail":"field `time`: ...","raw":"<the line as received>"
//    [,"raw_bytes":N,"raw_blake2b":"<32 hex digits>"]}
// `raw` is the line as sent, as a JSON string (invalid UTF-8 replaced by
// U+FFFD), cut after RejectsOptions::raw_bytes; a cut line also carries its
// whole length and a BLAKE2b-128 hash of it, so the sender's copy can be
// found and matched.
//
// Bounds:
//   - the file rotates past max_bytes: rejected.ndjson becomes .1, .1 becomes
//     .2, ..., and the oldest past `keep` is deleted;
//   - what it writes never exceeds twice the bytes of the rejected lines
//     (plus a 64 KiB allowance): a flood of tiny junk lines, whose records
//     would be many times their size, is counted (write() returns false;
//     tally_rejects_unwritten_total) but not written, and the count is logged
//     at most every 10 s.
//
// Writes are buffered (stdio) and flushed by the ingest thread once per round
// of received messages and when it stops, so a reject costs no syscall of
// its own; a crash can lose the records of the last round.
//
// Thread-safety: none; owned by the ingest thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/reject_reason.h"

namespace tally::stream {

struct RejectsOptions {
  // The file; set by the daemon to "<data dir>/rejected.ndjson".
  std::string path = "rejected.ndjson";
  // Rotate past this size. Default 64 MiB.
  std::uint64_t max_bytes = std::uint64_t{64} << 20;
  // Rotated files kept (rejected.ndjson.1 .. .keep). Default 4.
  unsigned keep = 4;
  // Bytes of a rejected line kept in `raw`. Default 1 KiB.
  std::size_t raw_bytes = 1024;
};

class RejectedLog {
 public:
  // Opens (appends to) options.path; throws std::runtime_error if it cannot.
  explicit RejectedLog(RejectsOptions options);
  ~RejectedLog();
  RejectedLog(const RejectedLog&) = delete;
  RejectedLog& operator=(const RejectedLog&) = delete;

  // False: counted, not written (the byte budget above).
  bool write(std::string_view channel, std::string_view batch_id, std::uint32_t line,
             RejectReason reason, std::string_view detail, std::string_view raw);
  void flush();
  const std::string& path() const noexcept { return options_.path; }

 private:
  void open();
  void rotate();
  void note_unwritten();

  RejectsOptions options_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_bytes_ = 0;      // of the current file
  std::uint64_t rejected_bytes_ = 0;  // of the rejected lines, since start
  std::uint64_t written_bytes_ = 0;   // of records, since start
  std::uint64_t unwritten_ = 0;
  std::uint64_t unwritten_logged_ = 0;
  std::int64_t unwritten_logged_ms_ = 0;
  std::string record_;  // reused buffer
};

}  // namespace tally::stream
