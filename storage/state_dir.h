// The data directory's durable state: which journal and snapshot files exist,
// which of them recovery must read, and which are obsolete.
//
// Files (all in the data directory):
//   journal-GGGGGGGG-wWWWW-SSSSSS.tj   worker W's journal, generation G,
//                                      segment S (appended, then rotated)
//   snapshot-GGGGGGGG-wWWWW.ts          worker W's part of snapshot G
//   snapshot-GGGGGGGG.done              G is complete: written only after
//                                      every worker's part was renamed into
//                                      place; holds the worker count
//   *.tmp                               a file being written (never read)
//   LOCK                                flock()ed by the running daemon,
//                                      holding its pid
//
// Generations order everything: a worker that takes part in snapshot G first
// moves its journal to generation G, then writes its state, so snapshot G
// holds everything in journals of generations below G. Recovery therefore
// reads the newest complete snapshot G and every journal of generation >= G,
// whatever worker wrote them; older files are obsolete and deleted once a
// newer snapshot is complete.
//
// Every file operation goes through an Env (env.h); every failure is a
// Status naming the file.
//
// Thread-safety: free functions; DirLock is a plain owner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/env.h"

namespace tally::storage {

struct StateFiles {
  std::string dir;
  // The newest complete snapshot, if any, and its parts.
  std::optional<std::uint64_t> snapshot_generation;
  std::vector<std::string> snapshots;
  // Journals recovery replays (generation >= the snapshot's), sorted by name.
  std::vector<std::string> journals;
  // Files no recovery needs: older generations, incomplete snapshots, *.tmp.
  std::vector<std::string> obsolete;
  // The generation a new process writes its journals in: above every file seen.
  std::uint64_t next_generation = 1;
};

// Lists the state files of `dir` (which must exist). Fails (kCorruption) when
// the newest snapshot marked complete lacks a part or its marker is
// unreadable, naming the file.
Result<StateFiles> scan_state_dir(Env* env, const std::string& dir);

std::string journal_file_name(std::uint64_t generation, std::uint32_t worker,
                              std::uint32_t segment);
std::string snapshot_file_name(std::uint64_t generation, std::uint32_t worker);
std::string snapshot_marker_name(std::uint64_t generation);

// Makes the parts' names durable (a directory sync), then writes the marker
// that makes snapshot `generation` complete (durably: file synced, renamed
// into place, directory synced), then deletes every file that snapshot makes
// obsolete. Fails if the marker cannot be made durable; a failed delete only
// costs disk (the next snapshot retries it).
Status complete_snapshot(Env* env, const std::string& dir, std::uint64_t generation,
                         std::uint32_t workers);

// Exclusive lock on DIR/LOCK for the life of the object, so that two daemons
// never write the same journals.
class DirLock {
 public:
  // kBusy, naming the holder's pid, when another process holds it.
  static Result<DirLock> acquire(Env* env, const std::string& dir);

 private:
  explicit DirLock(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}
  std::unique_ptr<FileLock> lock_;
};

}  // namespace tally::storage
