// A worker's journal: the append-only log of the events it accepted.
//
// The worker appends records to an in-memory buffer as it applies events and
// calls flush() once per drained pass (group commit): one write of
// everything buffered and, depending on the fsync mode, one sync. The worker
// answers an acknowledged batch only after the flush that covers its events,
// so "acknowledged" means "in the journal" (see the README's durability table
// for what each mode survives). No syscall per event.
//
// Segments: the journal is a sequence of files, rotated once a file passes
// segment_bytes and moved to a new generation when a snapshot starts (see
// state_dir.h for the names). A new file's header and directory entry are
// made durable (unless kNone) before anything is written after the header,
// so no acknowledgement can depend on a file that a power cut would remove.
//
// Errors: a failed create, write or sync (a full disk, an I/O error) is
// returned as a Status, never thrown. What was not written stays buffered and
// the next flush resumes exactly where the last one stopped (a short write's
// prefix is counted as written), so the file stays a valid sequence of
// records followed, at worst, by a torn tail that recovery cuts off.
//
// Files are written through an Env (env.h), so a test can fail a write at
// byte N, fill the disk, or drop what was not synced.
//
// Thread-safety: none; one JournalWriter belongs to one worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/env.h"
#include "storage/journal_format.h"

namespace tally::storage {

enum class FsyncMode : std::uint8_t {
  kBatch,     // sync before an acknowledged batch is answered
  kInterval,  // answer after the write; sync every sync_interval_ms
  kNone,      // answer after the write; the kernel writes back when it likes
};
const char* to_string(FsyncMode mode) noexcept;
// "batch", "interval", "none"; false for anything else.
bool parse_fsync_mode(std::string_view text, FsyncMode& mode) noexcept;

struct JournalOptions {
  // Whether the engine journals at all. Off (the default): scores live in
  // memory only, nothing is recovered, nothing is snapshotted. (The writer
  // itself does not read this; it tells its owner whether to make one.)
  bool enabled = false;
  // The data directory the journal files go to. Required when enabled.
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
  std::uint64_t records = 0;  // events and revokes (alert records are not counted)
  std::uint64_t bytes_written = 0;
  std::uint64_t syncs = 0;
  std::uint64_t errors = 0;  // failed writes, syncs or file creations
  std::uint64_t segments = 0;
};

class JournalWriter {
 public:
  // `env` must outlive the writer.
  JournalWriter(Env* env, JournalOptions options, std::uint32_t worker);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Starts segment 1 of `generation`, after writing and syncing the current
  // one. On failure the worker retries at its next flush.
  Status start_generation(std::uint64_t generation);

  // Buffers one record (an accepted event or revoke). No syscall, no
  // allocation once the buffer has reached its working size.
  void append(const journal::Record& record);
  // Buffers one alert record, stamping its origin (this generation, this
  // worker, the next ordinal) into `record`; the alert is durable with the
  // same flush as the records before it.
  void append_alert(journal::Record& record);

  // Writes what is buffered; syncs if `acks_waiting` (kBatch), or, in any
  // mode but kNone, if the sync interval has passed since the last sync.
  Status flush(bool acks_waiting, std::int64_t now_ms);
  // Writes and syncs everything (unless kNone); for a clean stop.
  Status finish();
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
  Status open_segment();
  void close_segment();
  Status write_pending();
  Status sync();
  // Counts a failure and passes it on.
  Status failed(Status status);

  Env* env_;
  JournalOptions options_;
  std::uint32_t worker_;
  std::uint64_t generation_ = 0;
  std::uint32_t segment_ = 0;
  std::uint64_t alert_ordinal_ = 0;     // alerts appended in this generation
  std::unique_ptr<WritableFile> file_;  // null between segments
  std::string path_;
  bool sync_owed_ = false;  // written since the last sync
  std::int64_t last_sync_ms_ = 0;
  std::string buffer_;
  std::size_t written_ = 0;  // prefix of buffer_ already in the file
  JournalCounters counters_;
};

}  // namespace tally::storage
