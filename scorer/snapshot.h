// Snapshots (a shard's state as records) and recovery (reading snapshots and
// journals back).
//
// A snapshot part is written by the worker that owns the shard, on its own
// thread, to `<name>.tmp`, flushed, then renamed: a reader never sees half a
// part. Its records are one per contribution (with the terms it was given)
// and one per revoke (pending or matched), closed by an end record carrying
// the count, so a cut or damaged part is always detected.
//
// Recovery reads the files scan_state_dir() selected and hands every record to
// a sink; it knows nothing of workers, so the sink may route records to any
// number of them. A journal's torn tail — bytes after the last good record
// that hold no good record at all, what a crash in the middle of a write
// leaves — is cut off and reported. Damage anywhere else (a bad record with
// good ones after it, a damaged snapshot, a foreign file) stops recovery with
// a StateError naming the file and offset: data is never silently dropped.
//
// Thread-safety: functions over their arguments; write_snapshot() must run on
// the thread that owns `table`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scorer/journal_format.h"
#include "scorer/state_dir.h"
#include "scorer/subject_table.h"

namespace tally::scorer {

struct SnapshotPartResult {
  int error = 0;  // 0, or the errno of the failed step
  std::string path;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

// Writes `table` as part `worker` of snapshot `generation` in `dir`.
SnapshotPartResult write_snapshot_part(const SubjectTable& table, const std::string& dir,
                                       std::uint64_t generation, std::uint32_t worker);

struct RecoveryReport {
  std::optional<std::uint64_t> snapshot_generation;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t snapshot_records = 0;
  std::uint64_t journal_records = 0;
  // Torn tails cut off, one line each: "FILE: cut N bytes at offset O (why)".
  std::vector<std::string> repaired;
  std::int64_t max_time_ms = 0;         // the largest event time read
  std::uint32_t max_rules_version = 0;  // the largest rule version read
  double seconds = 0;                   // read_state: reading; Engine::recover: until applied
};

// Reads every snapshot part and journal of `files`, calling `sink` for each
// event and revoke record (the views die when it returns). Cuts torn journal
// tails; throws StateError on any other damage.
RecoveryReport read_state(const StateFiles& files,
                          const std::function<void(const journal::Record&)>& sink);

}  // namespace tally::scorer
