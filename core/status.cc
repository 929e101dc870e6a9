#include "core/status.h"

#include <cstring>

namespace tally {

Status::Status(Code code, std::string message) : code_(code) {
  auto detail = std::make_shared<Detail>();
  detail->message = std::move(message);
  detail_ = std::move(detail);
}

Status Status::invalid_at(Place place, std::string reason) {
  Status status(Code::kInvalidArgument, std::move(reason));
  auto detail = std::make_shared<Detail>(*status.detail_);
  detail->place = std::move(place);
  detail->has_place = true;
  status.detail_ = std::move(detail);
  return status;
}

Status Status::io_error(std::string_view context, int error) {
  std::string message(context);
  if (!message.empty()) message += ": ";
  message += std::strerror(error);
  Status status(Code::kIoError, std::move(message));
  status.subcode_ = error;
  return status;
}

std::string_view Status::message() const noexcept {
  if (static_message_ != nullptr) return static_message_;
  if (detail_ != nullptr) return detail_->message;
  return {};
}

const Status::Place* Status::place() const noexcept {
  return detail_ != nullptr && detail_->has_place ? &detail_->place : nullptr;
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string text;
  if (const Place* where = place(); where != nullptr && !where->file.empty()) {
    text = where->file;
    if (where->line > 0) {
      text += ':' + std::to_string(where->line);
      if (where->column > 0) text += ':' + std::to_string(where->column);
    }
    text += ": ";
  }
  text += message();
  return text;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  Status status = *this;
  auto detail =
      detail_ != nullptr ? std::make_shared<Detail>(*detail_) : std::make_shared<Detail>();
  detail->message = std::string(context) + ": " + std::string(message());
  status.static_message_ = nullptr;
  status.detail_ = std::move(detail);
  return status;
}

std::string_view to_string(Status::Code code) noexcept {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid_argument";
    case Status::Code::kRejected:
      return "rejected";
    case Status::Code::kNotFound:
      return "not_found";
    case Status::Code::kIoError:
      return "io_error";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kBusy:
      return "busy";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kOutOfRange:
      return "out_of_range";
    case Status::Code::kInterrupted:
      return "interrupted";
    case Status::Code::kInternal:
      return "internal";
    case Status::Code::kRefused:
      return "refused";
  }
  return "unknown";
}

}  // namespace tally
