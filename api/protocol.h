// The query and admin protocol, written once: the ops a client may ask, the
// error codes tallyd answers, each request as a typed value, and their JSON.
// tallyd parses with it (scorer/query_handler.h), `tally` and tally-bench
// build requests with it, and docs/client.md is checked against it by a test
// (tests/api/client_doc_test.cc). The answers are in api/answers.h.
//
// One JSON object in, one out. A request names its op and that op's fields;
// fields an op does not know are ignored:
//
//   {"op":"score","subject":S[,"at":TIME]}      TIME: RFC 3339 string, or
//   {"op":"explain","subject":S[,"at":TIME]}          integer epoch milliseconds
//   {"op":"history","subject":S}
//   {"op":"top"[,"n":1..10000 (10)][,"order":"highest"|"lowest"]}
//   {"op":"stats"}  {"op":"reload"}  {"op":"snapshot"}
//   {"op":"workers"[,"set":1..4096]}
//   {"op":"impact","rules":TOML_TEXT[,"file":NAME][,"at":TIME][,"top":1..10000 (10)]
//                  [,"rows":[FROM_GROUP,TO_GROUP]]}
//   {"op":"alerts"[,"since":SEQ (the oldest kept)][,"limit":1..10000 (1000)]}
//
// A request that cannot be answered gets {"error":{"code":C,"message":M}}
// with C an ErrorCode's name, never silence. A `moved` error adds
// "partition" and "owners" (api/answers.h, MovedError).
//
// Thread-safety: plain values and pure functions; a RequestParser is one
// thread's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/key_groups.h"
#include "core/status.h"

namespace simdjson::dom {
class parser;
}

namespace tally::api {

// ---- Ops -------------------------------------------------------------------

enum class Op : std::uint8_t {
  kScore,     // a subject's score, tier and events counting
  kExplain,   // the score and every contribution behind it
  kHistory,   // a subject's whole record in time order
  kTop,       // the N highest or lowest scores
  kStats,     // counts: received, accepted, duplicates, rejected, per worker
  kReload,    // re-read the rules file
  kWorkers,   // the worker count
  kSnapshot,  // write a snapshot now
  kImpact,    // what a proposed rules file would do to every subject (nothing changes)
  kAlerts,    // tier-change alerts from the alert log, by sequence number
};
// Stable names, in the enum's order: what `"op"` carries.
inline constexpr std::array<std::string_view, 10> kOpNames = {
    "score",  "explain", "history",  "top",    "stats",
    "reload", "workers", "snapshot", "impact", "alerts"};
std::string_view to_string(Op op) noexcept;
std::optional<Op> op_named(std::string_view name) noexcept;

// ---- Error codes -----------------------------------------------------------

enum class ErrorCode : std::uint8_t {
  kBadRequest,      // the request is not JSON, or not a JSON object
  kUnknownOp,       // `op` names no op
  kMissingField,    // a required field is absent
  kBadField,        // a field has the wrong type or is out of range
  kBadTime,         // `at` is neither RFC 3339 nor integer epoch milliseconds
  kRulesRefused,    // reload: the rules file breaks the rules (running rules kept)
  kNotSupported,    // this daemon cannot do that (no journal to snapshot)
  kSnapshotFailed,  // a worker could not write its snapshot part
  kBusy,            // a worker-count change is running: ask again when it ends
  kForbidden,       // the client's roles do not allow the op (tallyd --auth)
  kMoved,           // a cluster node does not own the subject's partition: ask an owner
};
// Stable names, in the enum's order: what `"code"` carries.
inline constexpr std::array<std::string_view, 11> kErrorCodeNames = {
    "bad_request",   "unknown_op",      "missing_field", "bad_field", "bad_time", "rules_refused",
    "not_supported", "snapshot_failed", "busy",          "forbidden", "moved"};
std::string_view to_string(ErrorCode code) noexcept;
std::optional<ErrorCode> error_code_named(std::string_view name) noexcept;

// A refusal as a Status (Status::Code::kRefused carrying the code), so that
// parse_request and the query service return Result<T> like everything else.
Status refusal(ErrorCode code, std::string message);
// The code a refusal carries; nullopt for any other Status.
std::optional<ErrorCode> error_code_of(const Status& status) noexcept;

// ---- Requests --------------------------------------------------------------

enum class Order : std::uint8_t { kHighest, kLowest };
inline constexpr std::array<std::string_view, 2> kOrderNames = {"highest", "lowest"};
std::string_view to_string(Order order) noexcept;

// Limits: a request outside them is refused with bad_field.
inline constexpr std::uint64_t kDefaultTopN = 10;
inline constexpr std::uint64_t kMaxTopN = 10'000;
inline constexpr std::uint32_t kMaxWorkers = kKeyGroups;
inline constexpr std::uint64_t kDefaultAlertsLimit = 1'000;
inline constexpr std::uint64_t kMaxAlertsLimit = 10'000;  // a worker owns at least one key group

// `at_ms` absent: now (the wall clock, or the largest event time seen under
// clock = "event").
struct ScoreRequest {
  std::string subject;
  std::optional<std::int64_t> at_ms;
};
struct ExplainRequest {
  std::string subject;
  std::optional<std::int64_t> at_ms;
};
struct HistoryRequest {
  std::string subject;
};
struct TopRequest {
  std::uint64_t n = kDefaultTopN;
  Order order = Order::kHighest;
};
struct StatsRequest {};
struct ReloadRequest {};
// `set` absent: only ask the count.
struct WorkersRequest {
  std::optional<std::uint32_t> set;
};
struct SnapshotRequest {};
// A proposed rules file, scored against every stored contribution as if it
// had always been in force. `rows`: also list each changed subject of the
// key groups [first, second) (a page of the CSV).
inline constexpr std::size_t kMaxImpactRulesBytes = 16 << 20;
struct ImpactRequest {
  std::string rules;                   // the file's text
  std::string file = "proposal.toml";  // its name, for errors
  std::optional<std::int64_t> at_ms;
  std::uint64_t top = kDefaultTopN;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> rows;
};

// Alerts from seq `since` on (0: from the oldest the log keeps), at most `limit`.
struct AlertsRequest {
  std::uint64_t since = 0;
  std::uint64_t limit = kDefaultAlertsLimit;
};

// One alternative per op, in Op's order.
using Request =
    std::variant<ScoreRequest, ExplainRequest, HistoryRequest, TopRequest, StatsRequest,
                 ReloadRequest, WorkersRequest, SnapshotRequest, ImpactRequest, AlertsRequest>;
Op op_of(const Request& request) noexcept;
// The subject a request names (score, explain, history); nullptr for the
// ops that name none. A cluster node answers `moved` for a subject it does
// not own, and `tally --cluster` routes by it.
const std::string* subject_of(const Request& request) noexcept;

// Reads one request. Failure is a refusal (error_code_of) with the message
// tallyd answers. `parser` is reused between calls (it keeps its buffers).
Result<Request> parse_request(std::string_view json, simdjson::dom::parser& parser);
Result<Request> parse_request(std::string_view json);

// The request as a client sends it; `at` as integer epoch milliseconds.
// parse_request(to_json(r)) gives r back.
std::string to_json(const Request& request);

}  // namespace tally::api
