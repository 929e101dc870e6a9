#include "stream/rejected_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::stream {
namespace {

constexpr std::uint64_t kAllowance = 64 * 1024;  // records written before the 2x budget applies

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string blake2b_128_hex(std::string_view bytes) {
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  std::string hex;
  for (const unsigned char byte : hash) hex += fmt::format("{:02x}", byte);
  return hex;
}

}  // namespace

RejectedLog::RejectedLog(RejectsOptions options) : options_(std::move(options)) { open(); }

RejectedLog::~RejectedLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void RejectedLog::open() {
  // 0600: rejected lines are raw input, plates and all (personal data).
  const int fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  file_ = fd < 0 ? nullptr : ::fdopen(fd, "ab");
  if (fd >= 0 && file_ == nullptr) ::close(fd);
  if (file_ == nullptr) {
    throw std::runtime_error("cannot open " + options_.path + ": " + std::strerror(errno));
  }
  std::error_code error;
  const auto size = std::filesystem::file_size(options_.path, error);
  file_bytes_ = error ? 0 : size;
}

void RejectedLog::rotate() {
  std::error_code error;
  if (!std::filesystem::is_regular_file(options_.path, error)) {
    file_bytes_ = 0;  // a device or a pipe (tests: /dev/null) is never renamed
    return;
  }
  std::fclose(file_);
  file_ = nullptr;
  const auto numbered = [&](unsigned n) { return options_.path + "." + std::to_string(n); };
  if (options_.keep == 0) {
    std::filesystem::remove(options_.path, error);
  } else {
    std::filesystem::remove(numbered(options_.keep), error);
    for (unsigned n = options_.keep; n > 1; --n) {
      std::filesystem::rename(numbered(n - 1), numbered(n), error);
    }
    std::filesystem::rename(options_.path, numbered(1), error);
  }
  if (error) spdlog::warn("dead letters: rotating {}: {}", options_.path, error.message());
  open();
}

void RejectedLog::note_unwritten() {
  ++unwritten_;
  const std::int64_t now = wall_now_ms();
  if (now - unwritten_logged_ms_ < 10'000) return;
  spdlog::warn(
      "dead letters: {} rejected lines counted but not written to {} since the last notice "
      "(their records would exceed twice the bytes of the rejected lines)",
      unwritten_ - unwritten_logged_, options_.path);
  unwritten_logged_ = unwritten_;
  unwritten_logged_ms_ = now;
}

bool RejectedLog::write(std::string_view channel, std::string_view batch_id, std::uint32_t line,
                        RejectReason reason, std::string_view detail, std::string_view raw) {
  rejected_bytes_ += raw.size() + 1;  // the newline that ended it
  record_.clear();
  record_.append("{\"received\":");
  append_json_string(record_, format_rfc3339_ms(wall_now_ms()));
  record_.append(",\"channel\":");
  append_json_string(record_, channel);
  if (!batch_id.empty()) {
    record_.append(",\"batch\":");
    append_json_string(record_, batch_id);
  }
  record_.append(",\"line\":");
  record_.append(std::to_string(line));
  record_.append(",\"reason\":");
  append_json_string(record_, to_string(reason));
  record_.append(",\"detail\":");
  append_json_string(record_, detail.substr(0, options_.raw_bytes));
  record_.append(",\"raw\":");
  append_json_string(record_, raw.substr(0, options_.raw_bytes));
  if (raw.size() > options_.raw_bytes) {
    record_.append(",\"raw_bytes\":");
    record_.append(std::to_string(raw.size()));
    record_.append(",\"raw_blake2b\":\"");
    record_.append(blake2b_128_hex(raw));
    record_.append("\"");
  }
  record_.append("}\n");
  if (written_bytes_ + record_.size() > 2 * rejected_bytes_ + kAllowance) {
    note_unwritten();
    return false;
  }
  if (file_bytes_ > 0 && file_bytes_ + record_.size() > options_.max_bytes) rotate();
  std::fwrite(record_.data(), 1, record_.size(), file_);
  file_bytes_ += record_.size();
  written_bytes_ += record_.size();
  return true;
}

void RejectedLog::flush() { std::fflush(file_); }

}  // namespace tally::stream
