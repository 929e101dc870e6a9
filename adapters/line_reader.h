// Reads lines in large chunks, without a copy or an allocation per line: how
// `tally send` and the adapters feed millions of records. Over a descriptor,
// or over any ByteSource (gzip, a followed file).
//
// Thread-safety: none. Does not own the descriptor; owns nothing it is given
// by reference.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/byte_source.h"

namespace tally::adapters {

class LineReader {
 public:
  explicit LineReader(int fd, std::size_t chunk_bytes = 1 << 20);
  explicit LineReader(ByteSource& source, std::size_t chunk_bytes = 1 << 20);

  // The next line without its "\n" (a "\r" before it is kept), valid until
  // the next call; a last line without "\n" counts. nullopt when there is no
  // complete line: at the end of the input, on a read error (then error() is
  // non-empty), or, for a followed source, when nothing more is there yet
  // (then idle() is true; a partial line stays buffered for the next call).
  std::optional<std::string_view> next();
  // The read error, as text; empty if none.
  const std::string& error_text() const;
  // The read error as errno (fd constructor only); 0 if none.
  int error() const noexcept { return error_text().empty() ? 0 : errno_; }
  bool idle() const noexcept { return idle_; }

 private:
  bool refill();  // false when no bytes came: end, idle or error

  std::unique_ptr<ByteSource> owned_;  // the fd constructor's source
  ByteSource* source_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unread bytes are [begin_, end_)
  std::size_t end_ = 0;
  std::size_t scanned_ = 0;  // bytes from begin_ already known to hold no '\n'
  bool eof_ = false;
  bool idle_ = false;
  int errno_ = 0;
};

}  // namespace tally::adapters
