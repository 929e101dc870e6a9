#include "adapters/byte_source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tally::adapters {
namespace {

std::string errno_text(const std::string& what, const std::string& path, int error) {
  return fmt::format("cannot {} {}: {}", what, path, std::strerror(error));
}

// Reads a descriptor as it is; owns it unless told otherwise.
class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owned, std::string name) : fd_(fd), owned_(owned), name_(std::move(name)) {
    struct stat info {};
    if (::fstat(fd_, &info) == 0 && S_ISREG(info.st_mode)) total_ = info.st_size;
  }
  ~FdSource() override {
    if (owned_) ::close(fd_);
  }
  Read read(char* into, std::size_t size) override {
    for (;;) {
      const ssize_t n = ::read(fd_, into, size);
      if (n > 0) {
        consumed_ += static_cast<std::uint64_t>(n);
        return {static_cast<std::size_t>(n), State::kData};
      }
      if (n == 0) return {0, State::kEnd};
      if (errno != EINTR) {
        error_ = errno_text("read", name_, errno);
        return {0, State::kError};
      }
    }
  }
  const std::string& error() const override { return error_; }
  std::uint64_t consumed() const override { return consumed_; }
  std::uint64_t total() const override { return total_; }

 private:
  int fd_;
  bool owned_;
  std::string name_, error_;
  std::uint64_t consumed_ = 0, total_ = 0;
};

// Reads a gzip stream (several members in a row are one stream, as gzip -d
// reads them) through zlib's gzread.
class GzipSource final : public ByteSource {
 public:
  GzipSource(int fd, std::string name) : name_(std::move(name)) {
    struct stat info {};
    if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) total_ = info.st_size;
    file_ = ::gzdopen(fd, "rb");
    if (file_ == nullptr) ::close(fd);
    if (file_ != nullptr) ::gzbuffer(file_, 1 << 18);
  }
  ~GzipSource() override {
    if (file_ != nullptr) ::gzclose(file_);
  }
  Read read(char* into, std::size_t size) override {
    if (file_ == nullptr) {
      error_ = fmt::format("cannot read {}: out of memory for gzip", name_);
      return {0, State::kError};
    }
    const int n =
        ::gzread(file_, into, static_cast<unsigned>(std::min<std::size_t>(size, 1u << 30)));
    if (n > 0) return {static_cast<std::size_t>(n), State::kData};
    int code = Z_OK;
    const char* message = ::gzerror(file_, &code);
    if (n == 0 && (code == Z_OK || code == Z_STREAM_END)) return {0, State::kEnd};
    error_ = fmt::format(
        "cannot read {} (gzip): {}", name_,
        code == Z_BUF_ERROR ? "the file ends in the middle of the gzip stream" : message);
    return {0, State::kError};
  }
  const std::string& error() const override { return error_; }
  std::uint64_t consumed() const override {
    if (file_ == nullptr) return 0;
    const auto offset = ::gzoffset(file_);
    return offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
  }
  std::uint64_t total() const override { return total_; }

 private:
  gzFile file_ = nullptr;
  std::string name_, error_;
  std::uint64_t total_ = 0;
};

// tail -F: see the header.
class FollowSource final : public ByteSource {
 public:
  explicit FollowSource(std::string path) : path_(std::move(path)) {}
  ~FollowSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Read read(char* into, std::size_t size) override {
    if (fd_ < 0 && !open_path()) return {0, error_.empty() ? State::kIdle : State::kError};
    for (;;) {
      const ssize_t n = ::read(fd_, into, size);
      if (n > 0) {
        if (offset_ == 0 && n >= 2 && static_cast<unsigned char>(into[0]) == 0x1f &&
            static_cast<unsigned char>(into[1]) == 0x8b) {
          error_ =
              fmt::format("cannot follow {}: it is gzip-compressed (follow the plain file)", path_);
          return {0, State::kError};
        }
        offset_ += static_cast<std::uint64_t>(n);
        consumed_ += static_cast<std::uint64_t>(n);
        return {static_cast<std::size_t>(n), State::kData};
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = errno_text("read", path_, errno);
        return {0, State::kError};
      }
      break;
    }
    // At the end of what is there: look for rotation or truncation.
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) return {0, State::kIdle};  // removed: wait
    if (now.st_dev != dev_ || now.st_ino != ino_) {
      ::close(fd_);  // the old file is read to its end: take the new one
      fd_ = -1;
      open_path();
      return {0, State::kIdle};
    }
    if (static_cast<std::uint64_t>(now.st_size) < offset_) {
      ::lseek(fd_, 0, SEEK_SET);
      offset_ = 0;
    }
    return {0, State::kIdle};
  }
  const std::string& error() const override { return error_; }
  std::uint64_t consumed() const override { return consumed_; }
  std::uint64_t total() const override { return 0; }

 private:
  bool open_path() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno != ENOENT) error_ = errno_text("open", path_, errno);
      return false;
    }
    struct stat info {};
    ::fstat(fd_, &info);
    dev_ = info.st_dev;
    ino_ = info.st_ino;
    offset_ = 0;
    return true;
  }

  std::string path_, error_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t offset_ = 0;    // in the open file
  std::uint64_t consumed_ = 0;  // over every file followed
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_input(const std::string& path) {
  const bool standard_input = path == "-";
  const std::string name = standard_input ? "<stdin>" : path;
  int fd = standard_input ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error(fmt::format("cannot open {}", name), errno);
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    return Status::invalid_argument(fmt::format("cannot read {}: it is a directory", name));
  }
  // gzread reads non-gzip data as it is, but a plain read is cheaper: look at
  // the magic bytes when the descriptor can seek, else let zlib decide.
  unsigned char magic[2] = {0, 0};
  if (S_ISREG(info.st_mode)) {
    const ssize_t n = ::pread(fd, magic, 2, 0);
    if (n < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
      return std::unique_ptr<ByteSource>(std::make_unique<FdSource>(fd, true, name));
    }
  }
  return std::unique_ptr<ByteSource>(std::make_unique<GzipSource>(fd, name));
}

std::unique_ptr<ByteSource> fd_source(int fd) {
  return std::make_unique<FdSource>(fd, false, fmt::format("descriptor {}", fd));
}

Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(fmt::format("cannot open {}", path), errno);
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::io_error(fmt::format("cannot read {}", path), errno);
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > max_bytes) {
    return Status::invalid_argument(
        fmt::format("{} is over {} bytes: not the small file expected", path, max_bytes));
  }
  text.resize(got);
  return text;
}

std::unique_ptr<ByteSource> follow_input(const std::string& path) {
  return std::make_unique<FollowSource>(path);
}

}  // namespace tally::adapters
