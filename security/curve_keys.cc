#include "security/curve_keys.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace tally::security {
namespace {

// Reads at most kMaxKeyFileBytes + 1 bytes of `path`; `secret` also checks
// that only the owner may read it; `key`: its content must be a key.
Result<std::string> read_key_file(const std::string& path, bool secret, bool key = true) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error(fmt::format("cannot open key file {}", path), errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::io_error(fmt::format("cannot stat key file {}", path), error);
  }
  if (secret && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    return Status::invalid_argument(
        fmt::format("secret key file {} may be read by group or others (mode {:o}): chmod 600 {}",
                    path, info.st_mode & 0777, path));
  }
  std::string bytes(kMaxKeyFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      wipe(bytes);
      return Status::io_error(fmt::format("cannot read key file {}", path), error);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > kMaxKeyFileBytes) {
    wipe(bytes);
    return Status::invalid_argument(
        fmt::format("key file {} is over {} bytes: not a key file", path, kMaxKeyFileBytes));
  }
  bytes.resize(got);
  while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.pop_back();
  if (!key) {
    bytes.resize(std::min(bytes.find('\n'), bytes.size()));
    return bytes;
  }
  if (!is_z85_key(bytes)) {
    wipe(bytes);
    return Status::invalid_argument(
        fmt::format("key file {} does not hold a key (40 Z85 characters and a newline)", path));
  }
  return bytes;
}

Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return errno == EEXIST
               ? Status::invalid_argument(fmt::format("{} exists: not overwritten", path))
               : Status::io_error(fmt::format("cannot create {}", path), errno);
  }
  // The mode asked for, whatever the umask.
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  return ok ? Status::ok() : Status::io_error(fmt::format("cannot write {}", path), error);
}

}  // namespace

SecretKey::~SecretKey() { wipe(z85_); }

SecretKey::SecretKey(SecretKey&& other) noexcept : z85_(std::move(other.z85_)) { wipe(other.z85_); }

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    wipe(z85_);
    z85_ = std::move(other.z85_);
    wipe(other.z85_);
  }
  return *this;
}

void wipe(std::string& text) noexcept {
  if (!text.empty()) ::explicit_bzero(text.data(), text.size());
  text.clear();
}

bool is_z85_key(std::string_view text) noexcept {
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (text.size() != kZ85KeyChars) return false;
  for (const char c : text) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

Result<KeyPair> generate_key_pair() {
  std::array<char, kZ85KeyChars + 1> public_key{};
  std::array<char, kZ85KeyChars + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return Status::internal("this libzmq cannot make CURVE keys (built without libsodium?)");
  }
  KeyPair pair;
  pair.public_key.assign(public_key.data(), kZ85KeyChars);
  pair.secret_key = SecretKey(std::string(secret_key.data(), kZ85KeyChars));
  ::explicit_bzero(secret_key.data(), secret_key.size());
  return pair;
}

Result<std::string> public_key_of(const SecretKey& secret) {
  std::array<char, kZ85KeyChars + 1> public_key{};
  if (!is_z85_key(secret.z85()) || zmq_curve_public(public_key.data(), secret.z85().c_str()) != 0) {
    return Status::invalid_argument("not a CURVE secret key");
  }
  return std::string(public_key.data(), kZ85KeyChars);
}

Result<SecretKey> read_secret_key_file(const std::string& path) {
  Result<std::string> text = read_key_file(path, /*secret=*/true);
  if (!text) return text.status();
  return SecretKey(std::move(text).value());
}

Result<SecretKey> read_secret_line_file(const std::string& path) {
  Result<std::string> text = read_key_file(path, /*secret=*/true, /*key=*/false);
  if (!text) return text.status();
  return SecretKey(std::move(text).value());
}

Result<std::string> read_public_key(const std::string& key_or_file) {
  // A path can be 40 characters of the Z85 alphabet too ('/', '.', '-' are
  // in it): a file that exists wins.
  if (is_z85_key(key_or_file) && ::access(key_or_file.c_str(), F_OK) != 0) return key_or_file;
  return read_key_file(key_or_file, /*secret=*/false);
}

Status write_key_files(const std::string& prefix, const KeyPair& pair) {
  const std::string secret_path = prefix + ".key";
  const std::string public_path = prefix + ".pub";
  if (::access(public_path.c_str(), F_OK) == 0) {
    return Status::invalid_argument(fmt::format("{} exists: not overwritten", public_path));
  }
  std::string secret_text = pair.secret_key.z85() + "\n";
  const Status secret = write_file(secret_path, secret_text, 0600);
  wipe(secret_text);
  if (!secret.is_ok()) return secret;
  return write_file(public_path, pair.public_key + "\n", 0644);
}

}  // namespace tally::security
