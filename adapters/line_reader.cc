#include "adapters/line_reader.h"

#include <cerrno>
#include <cstring>

namespace tally::adapters {

LineReader::LineReader(int fd, std::size_t chunk_bytes)
    : owned_(fd_source(fd)), source_(owned_.get()), buffer_(chunk_bytes) {}

LineReader::LineReader(ByteSource& source, std::size_t chunk_bytes)
    : source_(&source), buffer_(chunk_bytes) {}

const std::string& LineReader::error_text() const { return source_->error(); }

bool LineReader::refill() {
  idle_ = false;
  if (eof_ || !source_->error().empty()) return false;
  if (begin_ > 0) {  // keep the partial line, at the front
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than a chunk
  const int saved = errno;
  const ByteSource::Read got = source_->read(buffer_.data() + end_, buffer_.size() - end_);
  switch (got.state) {
    case ByteSource::State::kData:
      end_ += got.bytes;
      return true;
    case ByteSource::State::kIdle:
      idle_ = true;
      return false;
    case ByteSource::State::kEnd:
      eof_ = true;
      return false;
    case ByteSource::State::kError:
      errno_ = errno != saved && errno != 0 ? errno : EIO;
      return false;
  }
  return false;
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
      if (idle_ || !source_->error().empty() || begin_ == end_) return std::nullopt;
      const std::string_view last(buffer_.data() + begin_, end_ - begin_);
      begin_ = end_;
      scanned_ = 0;
      return last;
    }
  }
}

}  // namespace tally::adapters
