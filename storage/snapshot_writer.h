// A snapshot part: one worker's shard written as records (journal_format.h),
// so that recovery reads snapshots and journals with one reader.
//
// The part is written by the worker that owns the shard, on its own thread,
// to `<name>.tmp` in large writes; finish() adds the end record (which
// carries the count, so a cut or damaged part is always detected), syncs,
// and renames the file into place: a reader never sees half a part. The
// directory is synced once for all parts, by complete_snapshot() (state_dir.h)
// before it writes the marker, off the workers' threads.
//
// What goes into a part is the owner's business (scorer/shard_persistence.h:
// one record per contribution and one per revoke); storage knows records,
// not subjects or rules.
//
// Thread-safety: a SnapshotPartWriter belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/env.h"
#include "storage/journal_format.h"

namespace tally::storage {

struct SnapshotPartResult {
  Status status;  // ok, or the step that failed, naming the file
  std::string path;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

// Writes one worker's part of snapshot `generation` in `dir`. A writer
// destroyed unfinished, or whose finish() failed, removes its temporary file.
class SnapshotPartWriter {
 public:
  // `env` must outlive the writer. A file that cannot be created is reported
  // by finish().
  SnapshotPartWriter(Env* env, std::string dir, std::uint64_t generation, std::uint32_t worker);
  ~SnapshotPartWriter();
  SnapshotPartWriter(const SnapshotPartWriter&) = delete;
  SnapshotPartWriter& operator=(const SnapshotPartWriter&) = delete;

  void add(const journal::Record& record);
  SnapshotPartResult finish();

 private:
  void write_buffer();

  Env* env_;
  std::string dir_;
  std::string path_;
  std::string temporary_;
  std::unique_ptr<WritableFile> file_;  // null when it could not be created
  Status status_;                       // the first failure
  std::string buffer_;
  std::uint64_t records_ = 0;
  bool finished_ = false;
};

}  // namespace tally::storage
