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
//   LOCK                                flock()ed by the running daemon
//
// Generations order everything: a worker that takes part in snapshot G first
// moves its journal to generation G, then writes its state, so snapshot G
// holds everything in journals of generations below G. Recovery therefore
// reads the newest complete snapshot G and every journal of generation >= G,
// whatever worker wrote them; older files are obsolete and deleted once a
// newer snapshot is complete.
//
// Thread-safety: free functions; DirLock is a plain owner.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tally::scorer {

// A state file that cannot be used: a corrupt record in the middle of a
// journal, a damaged snapshot, an incomplete snapshot set. what() names the
// file and, where it applies, the byte offset.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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

// Lists the state files of `dir` (which must exist). Throws StateError when
// a snapshot marked complete lacks a part.
StateFiles scan_state_dir(const std::string& dir);

std::string journal_file_name(std::uint64_t generation, std::uint32_t worker,
                              std::uint32_t segment);
std::string snapshot_file_name(std::uint64_t generation, std::uint32_t worker);
std::string snapshot_marker_name(std::uint64_t generation);

// Makes a directory's entries (created, renamed, deleted files) durable.
// Returns 0 or an errno.
int fsync_dir(const std::string& dir) noexcept;

// Writes the marker that makes snapshot `generation` complete (durably), then
// deletes every file that snapshot makes obsolete. Throws StateError if the
// marker cannot be written.
void complete_snapshot(const std::string& dir, std::uint64_t generation, std::uint32_t workers);

// Exclusive lock on DIR/LOCK for the life of the object, so that two daemons
// never write the same journals. Throws StateError naming the holder's pid.
class DirLock {
 public:
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace tally::scorer
