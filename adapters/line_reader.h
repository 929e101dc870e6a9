// Reads a file descriptor line by line in large chunks, without a copy or an
// allocation per line: how `tally send` (and adapters) feed a Publisher
// millions of NDJSON lines.
//
// Thread-safety: none. Does not own the descriptor.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tally::adapters {

class LineReader {
 public:
  explicit LineReader(int fd, std::size_t chunk_bytes = 1 << 20);

  // The next line without its "\n" (a "\r" before it is kept), valid until
  // the next call; a last line without "\n" counts. nullopt at the end of
  // the input or on a read error (then error() is non-zero: errno).
  std::optional<std::string_view> next();
  int error() const noexcept { return error_; }

 private:
  bool refill();  // false at end of input or on error

  int fd_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unread bytes are [begin_, end_)
  std::size_t end_ = 0;
  std::size_t scanned_ = 0;  // bytes from begin_ already known to hold no '\n'
  bool eof_ = false;
  int error_ = 0;
};

}  // namespace tally::adapters
