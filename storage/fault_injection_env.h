// FaultInjectionEnv: an Env that wraps another (usually Env::posix()) and
// lets a test decide what the disk does: lose what was not synced, refuse a
// write, run out of space. Durability is proven with it (LevelDB's
// fault_injection_test, Redpanda's per-file fault injection): write, crash,
// drop what a power cut drops, recover, check what survived.
//
// It lives in tally_storage, not in a test folder, so that the tests of every
// folder (storage, scorer, daemon) can put it under the component they test.
// Production code never constructs one.
//
// What a power cut is modelled as (drop_unsynced_data()):
//   - data: each file written through this Env keeps only the bytes it had at
//     its last WritableFile::sync() (a file opened kAppend counts what it held
//     when opened as synced);
//   - directory entries: a file created since its directory's last sync_dir()
//     disappears; a rename to a new name since then is undone (the file is
//     back under its old name, and gone if that name was not durable either).
// Not modelled (taken as durable at once): removals, truncations, a rename
// onto a name that already existed, directories created, and files this Env
// did not write. Tally never renames onto an existing file and only removes
// what no recovery needs, so none of these can hide a lost write. A real disk
// may also keep some unsynced bytes, or lose them out of order; dropping all
// of them is the worst case for what Tally promises (only synced data counts).
//
// cut_power() models the instant itself, for a test whose writers run on
// other threads: from then on every write, sync, create, rename and removal
// reports success and has no effect, so the threads run on (and may answer
// clients, as a real process would in its last milliseconds) while nothing
// more reaches the disk. A test stops them, then calls drop_unsynced_data().
//
// Write faults (injected into WritableFile::append; a failed append leaves
// the prefix that "fit", as a real short write does, so size() tells a
// writer where to resume):
//   fail_write(n)          the n-th append from now fails, writing nothing;
//   fail_writes_past(N)    an append that would take a file past byte N
//                          writes up to N and fails, until cleared;
//   limit_space(B)         the disk takes B more bytes over all files, then
//                          fails with ENOSPC, until lift_space_limit();
//   fail_syncs()           every file sync fails (nothing becomes durable),
//                          until cleared.
//
// Thread-safety: every member may be called from any thread; the Env
// serialises the calls it passes to the base Env (it is for tests: a mutex
// per file operation costs nothing there).
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/env.h"

namespace tally::storage {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  // --- power cuts ---
  // From now on nothing reaches the disk (see the header comment).
  void cut_power();
  // Lets `operations` more writing operations (appends, syncs, creates,
  // renames, removals, truncations, directory syncs) happen, then cuts the
  // power: a crash point chosen by count, the same for the same seed.
  void cut_power_after(std::uint64_t operations);
  bool power_is_cut() const;
  // Writing operations so far.
  std::uint64_t operations() const;
  // Leaves the files as a power cut at this instant (or at cut_power(), if
  // earlier) would: see the header comment. Then the power is back on with
  // what is left taken as durable. Files opened before it are dead: every
  // call on them fails (EIO), as a restarted process never sees them.
  Status drop_unsynced_data();

  // --- write faults ---
  void fail_write(std::uint64_t nth, int error = EIO);
  // Only files whose path contains `path_contains` ("" for every file).
  void fail_writes_past(std::uint64_t offset, std::string path_contains = {}, int error = EIO);
  void limit_space(std::uint64_t bytes);
  void lift_space_limit();
  void fail_syncs(int error = EIO);
  // Clears fail_write, fail_writes_past, limit_space and fail_syncs.
  void clear_write_faults();

  // --- Env ---
  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path,
                                                          OpenMode mode) override;
  Result<std::unique_ptr<FileContents>> read_file(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status truncate(const std::string& path, std::uint64_t size) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  bool file_exists(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override;

 private:
  class FaultFile;
  // What this Env knows of a file it wrote; shared with its open FaultFile,
  // and moved with it on a rename.
  struct FileState {
    std::uint64_t synced = 0;    // bytes that survive a power cut
    bool entry_durable = false;  // its name survives a power cut
  };
  struct PendingRename {
    std::string from;
    std::string to;
  };

  // Counts one writing operation; false when the power is (now) cut and the
  // operation must have no effect. Caller holds mutex_.
  bool operation_reaches_disk();

  Env* base_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by path
  std::vector<PendingRename> renames_;                       // since their directory was synced
  std::uint64_t epoch_ = 0;                                  // bumped by drop_unsynced_data()
  std::uint64_t operations_ = 0;
  std::optional<std::uint64_t> cut_after_;
  bool power_cut_ = false;

  std::uint64_t appends_ = 0;
  std::optional<std::uint64_t> fail_append_number_;
  int fail_append_error_ = EIO;
  std::optional<std::uint64_t> fail_past_offset_;
  std::string fail_past_path_;
  int fail_past_error_ = EIO;
  std::optional<std::uint64_t> space_left_;
  std::optional<int> fail_sync_error_;
};

}  // namespace tally::storage
