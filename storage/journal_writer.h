// A worker's journal: the append-only log of the events it accepted.
//
// The worker appends records to an in-memory buffer as it applies events and
// calls flush() once per drained pass (group commit): one write of
// everything buffered. The sync (fdatasync) runs on the writer's own syncer
// thread, so the worker goes on applying while the disk works: a sync takes
// milliseconds, and a worker that waited for it would hold every event queued
// behind it that long. Positions say what is durable: appended_position()
// after the records of a batch, settled_position() once the disk has them
// (kBatch) or the kernel does (kInterval, kNone). The worker answers an
// acknowledged batch only once settled_position() has passed the batch's
// position, so "acknowledged" still means "in the journal" (see the README's
// durability table for what each mode survives). No syscall per event; one
// write per pass; one wake-up of the syncer per sync.
//
// Segments: the journal is a sequence of files, rotated once a file passes
// segment_bytes and moved to a new generation when a snapshot starts (see
// state_dir.h for the names). A new file's header and directory entry are
// made durable (unless kNone) before any position after them can settle
// (inline: before anything is written after the header; with the syncer: by
// its first request on the file, done after the previous segment's last), so
// no acknowledgement can depend on a file that a power cut would remove.
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
// Thread-safety: one JournalWriter belongs to one worker thread; its syncer
// thread only syncs, closes and frees the files the writer hands it, in the
// order handed, and publishes how far it got through atomics.
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
  // Where syncs run. True (the default): on the writer's syncer thread, so
  // the worker never waits for the disk. False: flush() syncs on the calling
  // thread and settled() holds when it returns (deterministic, for tests of
  // the group commit itself).
  bool background_sync = true;
};

struct JournalCounters {
  std::uint64_t records = 0;  // events and revokes (alert records are not counted)
  std::uint64_t bytes_written = 0;
  std::uint64_t syncs = 0;
  std::uint64_t errors = 0;  // failed writes, syncs or file creations (a failed
                             // background sync counts once per attempt)
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

  // Writes what is buffered; syncs (or, with background_sync, asks the
  // syncer to) if `acks_waiting` (kBatch), or, in any mode but kNone, if the
  // sync interval has passed since the last sync. A background sync that
  // failed since the last call is returned here (the syncer retries it).
  Status flush(bool acks_waiting, std::int64_t now_ms);
  // Writes and syncs everything (unless kNone), waiting for the syncer; for a
  // clean stop and a snapshot.
  Status finish();

  // Record bytes appended since the writer was made, across segments and
  // generations: the position a batch's records end at.
  std::uint64_t appended_position() const noexcept { return flushed_position_ + buffer_.size(); }
  // The position up to which acknowledgements may go: synced (kBatch), or
  // written (kInterval, kNone). Never decreases.
  std::uint64_t settled_position() const noexcept;
  // True when everything appended is settled.
  bool settled() const noexcept { return settled_position() == appended_position(); }
  // Bytes appended but not yet written.
  std::uint64_t pending_bytes() const noexcept { return buffer_.size() - written_; }
  bool over_buffer_limit() const noexcept { return pending_bytes() > options_.max_buffered_bytes; }

  FsyncMode mode() const noexcept { return options_.fsync; }
  std::uint64_t generation() const noexcept { return generation_; }
  JournalCounters counters() const noexcept;
  // The path of the file being written (for messages).
  const std::string& path() const noexcept { return path_; }

 private:
  class Syncer;

  Status open_segment();
  void close_segment();
  Status write_pending();
  Status sync();
  // Asks the syncer to sync `file` (and, if `sync_dir`, the directory) up to
  // the written position; `close` hands it the file to close and free after.
  void post_sync(WritableFile* file, bool close, bool sync_dir);
  // Waits until the syncer has done everything posted; the failure it met
  // meanwhile, if any.
  Status wait_for_syncer();
  // A background sync failure not yet reported, counted into errors.
  Status take_syncer_failure();
  std::uint64_t written_position() const noexcept { return flushed_position_ + written_; }
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
  std::size_t written_ = 0;                 // prefix of buffer_ already in the file
  std::uint64_t flushed_position_ = 0;      // position of buffer_'s first byte
  std::uint64_t synced_position_ = 0;       // inline syncs only
  std::uint64_t syncer_failures_seen_ = 0;  // background failures already reported
  JournalCounters counters_;
  std::unique_ptr<Syncer> syncer_;  // null: inline syncs, or kNone
};

}  // namespace tally::storage
