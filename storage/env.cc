// The POSIX Env: the only place in storage/ that calls the file system.
#include "storage/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tally::storage {
namespace {

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, std::uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status append(std::string_view bytes) override {
    if (fd_ < 0) return Status::io_error(path_ + ": write", EBADF);
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::io_error(path_ + ": write", errno);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      size_ += static_cast<std::uint64_t>(n);
    }
    return Status::ok();
  }

  Status sync() override {
    if (fd_ < 0) return Status::io_error(path_ + ": fdatasync", EBADF);
    if (::fdatasync(fd_) != 0) return Status::io_error(path_ + ": fdatasync", errno);
    return Status::ok();
  }

  Status close() override {
    if (fd_ < 0) return Status::ok();
    const int result = ::close(fd_);
    fd_ = -1;
    // Linux releases the descriptor even when close() reports an error:
    // never close it twice.
    if (result != 0 && errno != EINTR) return Status::io_error(path_ + ": close", errno);
    return Status::ok();
  }

  std::uint64_t size() const noexcept override { return size_; }
  const std::string& path() const noexcept override { return path_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
};

class MappedFile final : public FileContents {
 public:
  MappedFile(const char* data, std::size_t size) : data_(data), size_(size) {}
  ~MappedFile() override {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const noexcept override { return {data_, size_}; }

 private:
  const char* data_;
  std::size_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the flock
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path,
                                                          OpenMode mode) override {
    // O_APPEND either way: every write lands at the end, wherever it is.
    const int flags =
        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (mode == OpenMode::kTruncate ? O_TRUNC : 0);
    const int fd = ::open(path.c_str(), flags, kFileMode);
    if (fd < 0) return Status::io_error(path + ": cannot create", errno);
    std::uint64_t size = 0;
    if (mode == OpenMode::kAppend) {
      struct stat info {};
      if (::fstat(fd, &info) != 0) {
        const int error = errno;
        ::close(fd);
        return Status::io_error(path + ": cannot stat", error);
      }
      size = static_cast<std::uint64_t>(info.st_size);
    }
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd, size));
  }

  Result<std::unique_ptr<FileContents>> read_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::io_error(path + ": cannot open", errno);
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const int error = errno;
      ::close(fd);
      return Status::io_error(path + ": cannot stat", error);
    }
    const auto size = static_cast<std::size_t>(info.st_size);
    const char* data = nullptr;
    if (size > 0) {
      void* at = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (at == MAP_FAILED) {
        const int error = errno;
        ::close(fd);
        return Status::io_error(path + ": cannot map", error);
      }
      // Recovery reads front to back, once.
      ::madvise(at, size, MADV_SEQUENTIAL);
      data = static_cast<const char*>(at);
    }
    ::close(fd);  // the mapping outlives the descriptor
    return std::unique_ptr<FileContents>(std::make_unique<MappedFile>(data, size));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::io_error(from + ": cannot rename to " + to, errno);
    }
    return Status::ok();
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::io_error(path + ": cannot remove", errno);
    return Status::ok();
  }

  Status truncate(const std::string& path, std::uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return Status::io_error(path + ": cannot truncate", errno);
    }
    return Status::ok();
  }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    DIR* stream = ::opendir(dir.c_str());
    if (stream == nullptr) return Status::io_error(dir + ": cannot list", errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(stream)) {
      bool regular = entry->d_type == DT_REG;
      if (entry->d_type == DT_UNKNOWN) {  // some file systems do not say
        struct stat info {};
        regular = ::fstatat(::dirfd(stream), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
                  S_ISREG(info.st_mode);
      }
      if (regular) names.emplace_back(entry->d_name);
    }
    ::closedir(stream);
    return names;
  }

  bool file_exists(const std::string& path) override {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
  }

  Status sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::io_error(dir + ": cannot open directory", errno);
    const int result = ::fsync(fd);
    const int error = errno;
    ::close(fd);
    if (result != 0) return Status::io_error(dir + ": fsync", error);
    return Status::ok();
  }

  Status create_dir(const std::string& dir) override {
    // Each missing component in turn, like `mkdir -p`.
    for (std::size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
      const std::string prefix = dir.substr(0, end);
      if (!prefix.empty() && ::mkdir(prefix.c_str(), kDirMode) != 0 && errno != EEXIST) {
        return Status::io_error(prefix + ": cannot create directory", errno);
      }
      if (end == std::string::npos) break;
    }
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0) return Status::io_error(dir + ": cannot stat", errno);
    if (!S_ISDIR(info.st_mode)) return Status::io_error(dir + ": not a directory", ENOTDIR);
    return Status::ok();
  }

  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kFileMode);
    if (fd < 0) return Status::io_error(path + ": cannot open", errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error != EWOULDBLOCK) {
        ::close(fd);
        return Status::io_error(path + ": cannot lock", error);
      }
      char holder[32] = {};
      (void)::pread(fd, holder, sizeof holder - 1, 0);
      ::close(fd);
      std::string pid(holder);
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::busy(path + ": locked by another process (pid " +
                          (pid.empty() ? std::string("unknown") : pid) + ")");
    }
    // For the message above, in the next process that tries.
    const std::string pid = std::to_string(::getpid()) + "\n";
    (void)::ftruncate(fd, 0);
    (void)::pwrite(fd, pid.data(), pid.size(), 0);
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }
};

}  // namespace

Env* Env::posix() {
  static PosixEnv env;
  return &env;
}

Status write_file_atomically(Env* env, const std::string& dir, const std::string& path,
                             std::string_view bytes) {
  const std::string temporary = path + ".tmp";
  auto file = env->new_writable_file(temporary, OpenMode::kTruncate);
  Status status = file.status();
  if (status.is_ok()) status = (*file)->append(bytes);
  if (status.is_ok()) status = (*file)->sync();
  if (status.is_ok()) status = (*file)->close();
  if (status.is_ok()) status = env->rename(temporary, path);
  if (status.is_ok()) status = env->sync_dir(dir);
  if (!status.is_ok() && env->file_exists(temporary)) (void)env->remove(temporary);
  return status;
}

}  // namespace tally::storage
