#include "adapters/rejects_file.h"

#include "core/json_writer.h"

namespace tally::adapters {

RejectsFile::~RejectsFile() {
  if (file_ != nullptr) std::fclose(file_);
}

bool RejectsFile::write(const RejectedRecord& record) {
  if (file_ == nullptr) {
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) return ok_ = false;
  }
  line_.clear();
  JsonWriter json(line_);
  json.begin_object()
      .field("input", record.input)
      .field(record.element ? "element" : "line", record.line)
      .field("stage", record.stage)
      .field("reason", record.reason);
  if (!record.detail.empty()) json.field("detail", record.detail);
  std::string_view raw = record.raw;
  if (raw.ends_with('\r')) raw.remove_suffix(1);  // a CRLF record's CR
  if (!raw.empty()) json.field("record", raw);
  json.end_object();
  line_.push_back('\n');
  ++written_;
  if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) ok_ = false;
  return ok_;
}

bool RejectsFile::flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) ok_ = false;
  return ok_;
}

}  // namespace tally::adapters
