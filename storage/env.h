// Env: everything storage/ asks of the file system, behind one small
// interface (in the spirit of LevelDB's Env), so that a test can put a
// FaultInjectionEnv (fault_injection_env.h) between Tally and the disk: drop
// what was written but not synced, fail a write at byte N, fill the disk.
//
// What it offers is what the journal, snapshots, recovery and the state
// directory need, and nothing more: files written front to back and synced,
// whole files read back, and a few directory operations. Every failure is a
// Status (kIoError with its errno; the message names the path and the step).
//
// Permissions: files are created 0600 and directories 0700 (the state of a
// scoring system is personal data; only the daemon's user reads it).
//
// Thread-safety: an Env may be used from any number of threads at once (each
// worker writes its own files). A WritableFile, FileContents or FileLock
// belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tally::storage {

// What new_writable_file() does with a file that already exists.
enum class OpenMode : std::uint8_t {
  kTruncate,  // start it empty
  kAppend,    // keep its bytes and write after them
};

// A file written front to back.
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes the file if close() was not called

  // Appends all of `bytes`. On failure the file may hold a prefix of them:
  // size() says how far it got, so a caller can resume exactly there.
  virtual Status append(std::string_view bytes) = 0;
  // Makes everything appended so far durable (fdatasync: the data, and the
  // metadata needed to read it back; not the directory entry, see sync_dir).
  virtual Status sync() = 0;
  virtual Status close() = 0;

  // The file's length as written through this object (for kAppend, counting
  // what it held when opened).
  virtual std::uint64_t size() const noexcept = 0;
  virtual const std::string& path() const noexcept = 0;
};

// A whole file's bytes, read-only, valid as long as the object lives.
class FileContents {
 public:
  virtual ~FileContents() = default;
  virtual std::string_view bytes() const noexcept = 0;
};

// An advisory lock held as long as the object lives.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The real file system (POSIX calls). Lives for the whole process.
  static Env* posix();

  // Opens (creating it 0600 if needed) `path` for writing.
  virtual Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path,
                                                                  OpenMode mode) = 0;
  // The whole of `path` (the POSIX Env maps it: no copy).
  virtual Result<std::unique_ptr<FileContents>> read_file(const std::string& path) = 0;

  // Atomically replaces `to` with `from` (rename(2)); durable once the
  // directory is synced.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Cuts `path` to `size` bytes.
  virtual Status truncate(const std::string& path, std::uint64_t size) = 0;
  // The names (not paths) of the regular files in `dir`, in no order.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  virtual bool file_exists(const std::string& path) = 0;
  // Makes the directory's entries (files created, renamed or removed in it)
  // durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // Creates `dir` and any missing parents, 0700; fine if it exists.
  virtual Status create_dir(const std::string& dir) = 0;
  // Takes an exclusive lock on `path` (created 0600 if needed; flock(2)) and
  // writes this process's pid into it. If another process holds it: kBusy,
  // the message naming the holder's pid as the file says it.
  virtual Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) = 0;
};

// Replaces `path` (in directory `dir`) with `bytes`, atomically and durably:
// written to PATH.tmp, synced, renamed over `path`, the directory synced.
// After a crash `path` holds the old bytes or the new, whole. On failure the
// temporary is removed (the Status is the step's, which names its file).
Status write_file_atomically(Env* env, const std::string& dir, const std::string& path,
                             std::string_view bytes);

}  // namespace tally::storage
