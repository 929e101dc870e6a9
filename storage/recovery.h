// Recovery: reading a data directory's snapshot and journals back.
//
// read_state() reads the files scan_state_dir() (state_dir.h) selected and
// hands every event, revoke and alert record to a sink; it knows nothing of workers,
// so the sink may route records to any number of them.
//
// What it decides:
//   - a journal's torn tail (bytes after the last good record that hold no
//     good record at all: what a crash in the middle of a write leaves) is
//     cut off, and reported in RecoveryReport::repaired. It was never
//     acknowledged: an acknowledgement waits for its records to be written
//     whole.
//   - damage anywhere else (a bad record with good ones after it, a damaged or
//     cut snapshot part, a foreign file or format version) fails with
//     kCorruption, the message naming the file and the byte offset. Data is
//     never silently dropped.
// docs/durability.md has the table, with what an operator can do about each.
//
// Files are read through an Env (env.h): mapped, not copied, by the POSIX one.
//
// Thread-safety: a function over its arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/env.h"
#include "storage/journal_format.h"
#include "storage/state_dir.h"

namespace tally::storage {

struct RecoveryReport {
  std::optional<std::uint64_t> snapshot_generation;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t snapshot_records = 0;
  std::uint64_t journal_records = 0;  // events and revokes
  std::uint64_t journal_alerts = 0;   // alert records (handed to the sink too)
  // Torn tails cut off, one line each: "FILE: cut N bytes at offset O (why)".
  std::vector<std::string> repaired;
  std::int64_t max_time_ms = 0;         // the largest event time read
  std::uint32_t max_rules_version = 0;  // the largest rule version read
  double seconds = 0;                   // read_state: reading; Engine::recover: until applied
};

// Reads every snapshot part and journal of `files`, calling `sink` for each
// event, revoke and alert record (the views die when it returns). Cuts torn journal
// tails; fails (kCorruption, or kIoError for a file that cannot be read or
// cut) on anything else, having called `sink` for the records before it.
Result<RecoveryReport> read_state(Env* env, const StateFiles& files,
                                  const std::function<void(const journal::Record&)>& sink);

}  // namespace tally::storage
