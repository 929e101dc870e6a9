// A worker's journal: the append-only log of the events it accepted.
//
// The worker appends records to an in-memory buffer as it applies events and
// calls flush() once per drained pass (group commit): one write(2) of
// everything buffered and, depending on the fsync mode, one fdatasync(2). The
// worker answers an acknowledged batch only after the flush that covers its
// events, so "acknowledged" means "in the journal" (see the README's
// durability table for what each mode survives). No syscall per event.
//
// Segments: the journal is a sequence of files, rotated once a file passes
// segment_bytes and moved to a new generation when a snapshot starts (see
// state_dir.h). A new file's directory entry is made durable before any
// acknowledgement depends on it.
//
// Errors: a failed write or sync (a full disk, an I/O error) is returned as
// an errno value, never thrown. What was not written stays buffered and the
// next flush resumes exactly where the last one stopped, so the file stays a
// valid sequence of records followed, at worst, by a torn tail.
//
// Thread-safety: none; one JournalWriter belongs to one worker thread.
#pragma once

#include <cstdint>
#include <string>

#include "scorer/journal_format.h"
#include "stream/event.h"

namespace tally::scorer {

enum class FsyncMode : std::uint8_t {
  kBatch,     // fdatasync before an acknowledged batch is answered
  kInterval,  // answer after write(2); fdatasync every sync_interval_ms
  kNone,      // answer after write(2); the kernel writes back when it likes
};
const char* to_string(FsyncMode mode) noexcept;
// "batch", "interval", "none"; false for anything else.
bool parse_fsync_mode(std::string_view text, FsyncMode& mode) noexcept;

struct JournalOptions {
  // The data directory. Empty: no journal (scores live in memory only).
  std::string dir;
  FsyncMode fsync = FsyncMode::kBatch;
  // kInterval's period, and how stale unacknowledged (fire-and-forget) events
  // may get in kBatch mode before they are synced anyway. Default 200 ms.
  std::int64_t sync_interval_ms = 200;
  // A segment is closed and the next one started once it passes this size.
  // Default 64 MiB.
  std::uint64_t segment_bytes = 64ull << 20;
  // While the disk refuses writes, records wait in memory up to this many
  // bytes; beyond it the worker stops taking events (backpressure reaches the
  // senders) until the disk takes them. Default 256 MiB.
  std::uint64_t max_buffered_bytes = 256ull << 20;
};

struct JournalCounters {
  std::uint64_t records = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t syncs = 0;
  std::uint64_t errors = 0;  // failed writes, syncs or file creations
  std::uint64_t segments = 0;
};

class JournalWriter {
 public:
  JournalWriter(JournalOptions options, std::uint32_t worker);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Starts segment 1 of `generation`, after flushing and syncing the current
  // one. Returns 0 or an errno (the worker retries at its next flush).
  int start_generation(std::uint64_t generation);

  // Buffers one accepted event (or revoke). No syscall, no allocation once the
  // buffer has reached its working size.
  void append(const stream::Event& event);

  // Writes what is buffered; syncs if `sync` (or, in any mode but kNone, if
  // the sync interval has passed since the last sync). Returns 0 or errno.
  int flush(bool sync, std::int64_t now_ms);
  // Writes and syncs everything (unless kNone); for a clean stop.
  int finish();
  // True when everything appended has been written (and, in kBatch mode,
  // synced) — i.e. acknowledgements waiting on it may go.
  bool settled() const noexcept {
    return buffer_.size() == written_ && (options_.fsync != FsyncMode::kBatch || !sync_owed_);
  }
  // Bytes appended but not yet written.
  std::uint64_t pending_bytes() const noexcept { return buffer_.size() - written_; }
  bool over_buffer_limit() const noexcept { return pending_bytes() > options_.max_buffered_bytes; }

  FsyncMode mode() const noexcept { return options_.fsync; }
  std::uint64_t generation() const noexcept { return generation_; }
  const JournalCounters& counters() const noexcept { return counters_; }
  // The path of the file being written (for messages).
  const std::string& path() const noexcept { return path_; }

 private:
  int open_segment();
  int write_pending();
  int sync();

  JournalOptions options_;
  std::uint32_t worker_;
  std::uint64_t generation_ = 0;
  std::uint32_t segment_ = 0;
  int fd_ = -1;
  std::string path_;
  std::uint64_t file_bytes_ = 0;
  bool needs_new_segment_ = true;  // open_segment() owed before the next write
  bool sync_owed_ = false;         // written since the last fdatasync
  std::int64_t last_sync_ms_ = 0;
  std::string buffer_;
  std::size_t written_ = 0;  // prefix of buffer_ already in the file
  journal::Record scratch_;
  JournalCounters counters_;
};

}  // namespace tally::scorer
