#include "adapters/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tally::adapters {

LineReader::LineReader(int fd, std::size_t chunk_bytes) : fd_(fd), buffer_(chunk_bytes) {}

bool LineReader::refill() {
  if (eof_ || error_ != 0) return false;
  if (begin_ > 0) {  // keep the partial line, at the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than a chunk
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno != EINTR) {
      error_ = errno;
      return false;
    }
  }
}

std::optional<std::string_view> LineReader::next() {
  for (;;) {
    const char* from = buffer_.data() + begin_ + scanned_;
    const auto* newline =
        static_cast<const char*>(std::memchr(from, '\n', end_ - begin_ - scanned_));
    if (newline != nullptr) {
      const std::string_view line(buffer_.data() + begin_,
                                  static_cast<std::size_t>(newline - (buffer_.data() + begin_)));
      begin_ += line.size() + 1;
      scanned_ = 0;
      return line;
    }
    scanned_ = end_ - begin_;
    if (!refill()) {
      if (error_ != 0 || begin_ == end_) return std::nullopt;
      const std::string_view last(buffer_.data() + begin_, end_ - begin_);
      begin_ = end_;
      scanned_ = 0;
      return last;
    }
  }
}

}  // namespace tally::adapters
