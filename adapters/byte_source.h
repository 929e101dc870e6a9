// Where an adapter's bytes come from: a plain file or stdin, a gzip file (read
// transparently: a file that is not gzip is read as it is), or a file being
// followed as it grows, like `tail -F`.
//
// Following: the file is read from its start; at its end the source says
// "idle" (nothing now, ask again) instead of "end". Each time it is idle it
// looks at the path: a different file there (rotation: renamed or removed and
// created again) is opened once the old one is read to its end, and a file
// shorter than what was read (truncation, `> file`) is read again from its
// start. A path that does not exist yet is waited for. A followed source ends
// only when its owner stops asking.
//
// Thread-safety: none; one reader per source.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace tally::adapters {

class ByteSource {
 public:
  enum class State {
    kData,   // `bytes` > 0 bytes were read
    kIdle,   // nothing now (a followed file); ask again later
    kEnd,    // no more input
    kError,  // error() says what went wrong
  };
  struct Read {
    std::size_t bytes = 0;
    State state = State::kEnd;
  };

  virtual ~ByteSource() = default;
  virtual Read read(char* into, std::size_t size) = 0;
  virtual const std::string& error() const = 0;
  // For progress: bytes of the underlying file consumed so far (compressed
  // bytes for gzip), and its size (0 if unknown: a pipe, a followed file).
  virtual std::uint64_t consumed() const = 0;
  virtual std::uint64_t total() const = 0;
};

// Opens `path` ("-": stdin) for reading once, decompressing gzip if the data
// starts with gzip's magic bytes. kIoError (cannot open) or kInvalidArgument
// (a directory) with a message naming the path.
Result<std::unique_ptr<ByteSource>> open_input(const std::string& path);

// A source over a descriptor it does not own, read as it is (no gzip).
std::unique_ptr<ByteSource> fd_source(int fd);

// The whole of a small file (a mapping, a key, a time zone): refused
// (invalid_argument, naming it) past `max_bytes`, which is all that is read,
// so /dev/zero or a wrong path to a huge file costs nothing. Default 16 MiB.
Result<std::string> read_small_file(const std::string& path,
                                    std::size_t max_bytes = std::size_t{16} << 20);

// Follows `path` (see above). A gzip file cannot be followed: its first
// read fails with a message saying so.
std::unique_ptr<ByteSource> follow_input(const std::string& path);

}  // namespace tally::adapters
