#include "stream/rejected_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::stream {

RejectedLog::RejectedLog(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
}

RejectedLog::~RejectedLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void RejectedLog::write(std::string_view channel, std::string_view batch_id, std::uint32_t line,
                        RejectReason reason, std::string_view detail, std::string_view raw) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  record_.clear();
  record_.append("{\"received\":");
  append_json_string(record_, format_rfc3339_ms(now_ms));
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
  append_json_string(record_, detail);
  record_.append(",\"raw\":");
  append_json_string(record_, raw);
  record_.append("}\n");
  std::fwrite(record_.data(), 1, record_.size(), file_);
}

void RejectedLog::flush() { std::fflush(file_); }

}  // namespace tally::stream
