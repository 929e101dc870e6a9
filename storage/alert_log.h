// The alert log: every tier-change alert the daemon raised, numbered.
//
// Owns the sequence numbers. Each alert gets the next seq (1 for a data
// directory's first alert) when the control thread appends it, and is in the
// log, written and synced by commit(), before it goes out on the PUB socket,
// so a seq a subscriber saw is never given to another alert. A subscriber that
// sees seq jump reads the gap back with read().
//
// Durability comes from the journal, not from this file alone: a worker
// journals each alert in the same group commit as the event that caused it
// (journal_format.h, kind kAlert) and hands it on only once written. After a
// crash, the daemon appends the journaled alerts the log lacks (contains()
// tells by the alert's origin), so a restart never skips or reuses a number.
//
// Files (in the data directory):
//   alerts-SSSSSSSSSSSSSSSSSSSS.tal   a segment whose first alert is seq S
// A segment is a 16-byte header ("TALLYALG", u32 version, u32 0) then
// records, each u32 payload length | u32 CRC-32C | payload:
//   u64 seq | i64 logged_ms | u64 generation | u32 worker | u64 ordinal | body
// where body is the alert's JSON, as published. A segment is closed once a
// commit leaves it past segment_bytes; whole segments are dropped once older than retain_ms or
// while the log is over max_bytes, oldest first, never the newest (it holds
// the last seq, from which numbering goes on).
//
// Without a directory the log lives in memory, bounded the same way, and
// numbering starts at 1 with each process.
//
// Reads map a segment (no copy) and start from a mark every kMarkSpacing
// records, so read() costs the alerts it returns, not the log's size.
//
// Thread-safety: none; the daemon's control thread owns it.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/env.h"
#include "storage/journal_format.h"
#include "storage/journal_writer.h"

namespace tally::storage {

struct AlertLogOptions {
  // The data directory; empty keeps the log in memory.
  std::string dir;
  // kNone: commit() writes but never syncs. Otherwise it syncs what it wrote.
  FsyncMode fsync = FsyncMode::kBatch;
  // Segments whose newest alert is older than this are dropped. Default 7 days.
  std::int64_t retain_ms = 7LL * 24 * 3600 * 1000;
  // The log's size cap: past it the oldest segments are dropped. Default 1 GiB.
  std::uint64_t max_bytes = 1ULL << 30;
  // A segment is closed and the next one started past this size. Default
  // 16 MiB (the daemon uses at most a quarter of max_bytes).
  std::uint64_t segment_bytes = 16ULL << 20;
};

// What a read found: the bodies, in seq order, and where the log stands.
struct AlertRange {
  std::vector<std::string> bodies;
  std::uint64_t first = 0;   // the seq of bodies[0] (or where reading began)
  std::uint64_t next = 0;    // the seq to ask for next: first + bodies.size()
  std::uint64_t oldest = 0;  // the oldest seq the log still holds (next: none)
  std::uint64_t last = 0;    // the newest committed seq (0: none)
};

struct AlertLogCounters {
  std::uint64_t appended = 0;          // since open
  std::uint64_t segments_dropped = 0;  // by retention, since open
  std::uint64_t errors = 0;            // failed writes, syncs, creations, removals
};

class AlertLog {
 public:
  static constexpr std::size_t kMarkSpacing = 64;
  static constexpr std::uint64_t kMaxReadLimit = 10'000;

  // Reads the segments of options.dir (made if missing): the next seq goes
  // on from the last one found. A torn tail of the newest segment (a crash
  // mid-write) is cut; other damage fails with kCorruption naming the file
  // and offset.
  static Result<std::unique_ptr<AlertLog>> open(Env* env, AlertLogOptions options);

  // The seq the next append() gets.
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  // Buffers one alert with seq next_seq() (the caller put it in `body`).
  // Readers see it after commit().
  void append(std::string_view body, const journal::AlertOrigin& origin, std::int64_t now_ms);
  // Writes what append() buffered and syncs it (unless fsync is kNone); then
  // closes a full segment and drops what retention says. What failed stays
  // buffered for the next call.
  Status commit(std::int64_t now_ms);
  // Drops segments past retention (commit() does too; this is for a log
  // that takes no alerts for a while).
  void enforce_retention(std::int64_t now_ms);

  // True when the alert journaled under `origin` is already here.
  bool contains(const journal::AlertOrigin& origin) const;

  // Up to `limit` (at most kMaxReadLimit) committed alerts from seq `since`.
  Result<AlertRange> read(std::uint64_t since, std::uint64_t limit) const;

  std::uint64_t oldest_seq() const noexcept;
  // Committed bytes, headers included, over all segments.
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::size_t segments() const noexcept { return segments_.size(); }
  const AlertLogCounters& counters() const noexcept { return counters_; }
  bool in_memory() const noexcept { return options_.dir.empty(); }

 private:
  struct Segment {
    std::uint64_t first_seq = 0;
    std::uint64_t end_seq = 0;  // one past the last committed alert
    std::int64_t newest_ms = 0;
    std::string path;                    // file mode
    std::string memory;                  // memory mode: the segment's bytes
    std::uint64_t size = 0;              // committed bytes
    std::vector<std::uint64_t> marks;    // offset of alert first_seq + k*kMarkSpacing
    std::unique_ptr<WritableFile> file;  // the open newest segment (file mode)
    bool closed = false;
  };

  AlertLog(Env* env, AlertLogOptions options) : env_(env), options_(std::move(options)) {}
  Status load_segment(const std::string& name, bool newest);
  Status write_buffered(Segment& segment);
  void remember(const journal::AlertOrigin& origin);
  void drop_oldest();

  Env* env_;
  AlertLogOptions options_;
  std::deque<Segment> segments_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t bytes_ = 0;
  // Appended, not yet committed: bytes for the newest segment, and the
  // metadata that commit() folds into it.
  std::string buffer_;
  std::uint64_t buffered_first_seq_ = 0;
  std::int64_t buffered_newest_ms_ = 0;
  std::vector<std::uint64_t> buffered_marks_;  // offsets within buffer_
  // Per (generation, worker): the highest alert ordinal logged.
  absl::flat_hash_map<std::uint64_t, std::uint64_t> origins_;
  AlertLogCounters counters_;
};

}  // namespace tally::storage
