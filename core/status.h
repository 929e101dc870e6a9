// Status and Result<T>: the one way Tally's components say that something
// failed, in the spirit of LevelDB's Status and simdjson's error_code +
// simdjson_result<T>.
//
// A Status is a code (what kind of failure, for a caller that branches on it)
// and, when failed, a message fit for an operator ("rules.toml:12:3: `points`
// must be an integer"). Where the failure has a place in a text file, the
// place is kept too (file, line, column), so an API can answer it field by
// field. An I/O failure keeps its errno.
//
// Cost: an ok Status is one byte and a null pointer. A failed one made from a
// string literal (Status::rejected, or any factory given a `const char*`
// literal through the StaticMessage overloads) allocates nothing, so the hot
// path (the decoder's rejects) can return one per bad line. Other messages are
// built once and shared by copies.
//
// Exceptions are for start-up only (a bad flag, an unreadable config file),
// where the process exits with the message; everything that can fail while
// running returns a Status or a Result<T>.
//
// Thread-safety: a plain value; copies may be used from different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace tally {

class [[nodiscard]] Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kInvalidArgument,  // the input breaks a documented rule (a rules file, a flag, a request)
    kRejected,         // an event refused; reject_reason() names why
    kNotFound,         // what was asked for does not exist
    kIoError,          // the system refused (open, write, sync); sys_errno() says how
    kCorruption,       // stored bytes are damaged (a journal record, a snapshot part)
    kBusy,             // the same kind of work is already running; try later
    kUnavailable,      // a peer did not answer in time (a daemon, a socket)
    kOutOfRange,       // a value outside what is allowed
    kInterrupted,      // stopped on request (a signal) before finishing
    kInternal,         // a broken invariant: a bug
    kRefused,          // a request refused; refusal() names the protocol's code (api::ErrorCode)
  };

  // A place in a text file; line and column are 1-based, 0 when unknown.
  struct Place {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
  };

  Status() noexcept = default;  // ok
  static Status ok() noexcept { return Status(); }

  static Status invalid_argument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  // A refusal tied to a place in a file: "FILE:LINE:COLUMN: REASON".
  static Status invalid_at(Place place, std::string reason);
  // An event refused for `reason` (a RejectReason's value; core/reject_reason.h)
  // with a static detail: allocates nothing.
  static Status rejected(std::uint8_t reason, const char* static_detail) noexcept {
    Status status;
    status.code_ = Code::kRejected;
    status.subcode_ = reason;
    status.static_message_ = static_detail;
    return status;
  }
  // A request refused with its protocol's own code (an api::ErrorCode's
  // value, which the API answers by name) and a message for the asker.
  static Status refused(std::uint8_t code, std::string message) {
    Status status(Code::kRefused, std::move(message));
    status.subcode_ = code;
    return status;
  }
  static Status not_found(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  // `context` says what was being done ("journal-00000001-w0000-000001.tj:
  // write"); the message adds strerror(error).
  static Status io_error(std::string_view context, int error);
  static Status corruption(std::string message) {
    return Status(Code::kCorruption, std::move(message));
  }
  static Status busy(std::string message) { return Status(Code::kBusy, std::move(message)); }
  static Status unavailable(std::string message) {
    return Status(Code::kUnavailable, std::move(message));
  }
  static Status out_of_range(std::string message) {
    return Status(Code::kOutOfRange, std::move(message));
  }
  static Status interrupted(std::string message) {
    return Status(Code::kInterrupted, std::move(message));
  }
  static Status internal(std::string message) {
    return Status(Code::kInternal, std::move(message));
  }

  bool is_ok() const noexcept { return code_ == Code::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  Code code() const noexcept { return code_; }
  // kIoError: the errno; kRejected: the RejectReason; kRefused: the
  // protocol's code; otherwise 0.
  int sys_errno() const noexcept { return code_ == Code::kIoError ? subcode_ : 0; }
  std::uint8_t reject_reason() const noexcept {
    return code_ == Code::kRejected ? static_cast<std::uint8_t>(subcode_) : 0;
  }
  std::uint8_t refusal() const noexcept {
    return code_ == Code::kRefused ? static_cast<std::uint8_t>(subcode_) : 0;
  }
  // The message without the place ("" when ok).
  std::string_view message() const noexcept;
  // The place in a file, when the failure has one (else nullptr).
  const Place* place() const noexcept;
  // "FILE:LINE:COLUMN: message" (place parts omitted when unknown), or "ok".
  std::string to_string() const;

  // A copy whose message is prefixed: "context: message". For adding what
  // the caller was doing as a failure travels up.
  Status with_context(std::string_view context) const;

 private:
  struct Detail {
    std::string message;
    Place place;
    bool has_place = false;
  };
  Status(Code code, std::string message);

  Code code_ = Code::kOk;
  int subcode_ = 0;
  const char* static_message_ = nullptr;
  std::shared_ptr<const Detail> detail_;
};

// The stable name of a code, for logs and API error codes ("io_error").
std::string_view to_string(Status::Code code) noexcept;

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "use Status itself");

  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}        // NOLINT: implicit
  Result(Status status) : state_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(state_).is_ok()) {
      state_.template emplace<1>(Status::internal("a Result made from an ok Status"));
    }
  }

  bool is_ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  // The value; only when is_ok().
  T& value() & noexcept { return *std::get_if<0>(&state_); }
  const T& value() const& noexcept { return *std::get_if<0>(&state_); }
  T&& value() && noexcept { return std::move(*std::get_if<0>(&state_)); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }

  // Ok when there is a value; otherwise why not.
  Status status() const { return is_ok() ? Status() : *std::get_if<1>(&state_); }
  // The value, or `fallback` when there is none.
  T value_or(T fallback) const& { return is_ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace tally
