#include "api/protocol.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "core/event.h"
#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::api {
namespace {

static_assert(std::variant_size_v<Request> == kOpNames.size(), "one request type per op");
static_assert(kOpNames.size() == static_cast<std::size_t>(Op::kAlerts) + 1);
static_assert(kErrorCodeNames.size() == static_cast<std::size_t>(ErrorCode::kMoved) + 1);
static_assert(kMaxTopN == 10'000 && kMaxWorkers == 4096 && kMaxAlertsLimit == 10'000,
              "the messages below name the limits");

template <std::size_t N>
std::optional<std::size_t> index_of(const std::array<std::string_view, N>& names,
                                    std::string_view name) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return i;
  }
  return std::nullopt;
}

using Object = simdjson::dom::object;

// The subject of score, explain and history: a non-empty string.
Result<std::string> subject_field(Object request) {
  std::string_view subject;
  auto field = request["subject"];
  if (field.error() == simdjson::NO_SUCH_FIELD) {
    return refusal(ErrorCode::kMissingField, "`subject` is required");
  }
  if (field.get_string().get(subject) != simdjson::SUCCESS || subject.empty()) {
    return refusal(ErrorCode::kBadField, "`subject` must be a non-empty string");
  }
  if (subject.size() > kMaxSubjectBytes) {
    return refusal(ErrorCode::kBadField,
                   fmt::format("`subject` is {} bytes; at most {} (no event's subject is longer)",
                               subject.size(), kMaxSubjectBytes));
  }
  return std::string(subject);
}

// `at`, when present: an RFC 3339 string or an integer of epoch milliseconds.
Result<std::optional<std::int64_t>> at_of(Object request) {
  auto field = request["at"];
  if (field.error() != simdjson::SUCCESS) return std::optional<std::int64_t>();
  const simdjson::dom::element value = field.value_unsafe();
  std::optional<std::int64_t> at;
  std::string_view text;
  if (value.is_int64()) {
    at = value.get_int64().value_unsafe();
  } else if (value.get_string().get(text) == simdjson::SUCCESS) {
    at = parse_rfc3339_ms(text);
  }
  if (!at) {
    return refusal(ErrorCode::kBadTime,
                   "`at` must be an RFC 3339 time or an integer of epoch milliseconds");
  }
  return at;
}

template <typename SubjectRequest>
Result<Request> subject_request(Object object) {
  Result<std::string> subject = subject_field(object);
  if (!subject) return subject.status();
  SubjectRequest request;
  request.subject = std::move(subject).value();
  if constexpr (!std::is_same_v<SubjectRequest, HistoryRequest>) {  // history is always "now"
    Result<std::optional<std::int64_t>> at = at_of(object);
    if (!at) return at.status();
    request.at_ms = *at;
  }
  return Request(std::move(request));
}

Result<Request> top_request(Object object) {
  TopRequest request;
  auto n_field = object["n"];
  if (n_field.error() == simdjson::SUCCESS &&
      (n_field.get_uint64().get(request.n) != simdjson::SUCCESS || request.n == 0 ||
       request.n > kMaxTopN)) {
    return refusal(ErrorCode::kBadField, "`n` must be an integer from 1 to 10000");
  }
  auto order_field = object["order"];
  if (order_field.error() == simdjson::SUCCESS) {
    std::string_view name;
    std::optional<std::size_t> order;
    if (order_field.get_string().get(name) == simdjson::SUCCESS)
      order = index_of(kOrderNames, name);
    if (!order) return refusal(ErrorCode::kBadField, R"(`order` must be "highest" or "lowest")");
    request.order = static_cast<Order>(*order);
  }
  return Request(request);
}

Result<Request> workers_request(Object object) {
  WorkersRequest request;
  auto set_field = object["set"];
  if (set_field.error() == simdjson::SUCCESS) {
    std::uint64_t wanted = 0;
    if (set_field.get_uint64().get(wanted) != simdjson::SUCCESS || wanted == 0 ||
        wanted > kMaxWorkers) {
      return refusal(ErrorCode::kBadField, "`set` must be an integer from 1 to 4096");
    }
    request.set = static_cast<std::uint32_t>(wanted);
  }
  return Request(request);
}

Result<Request> impact_request(Object object) {
  ImpactRequest request;
  std::string_view text;
  auto rules = object["rules"];
  if (rules.error() == simdjson::NO_SUCH_FIELD) {
    return refusal(ErrorCode::kMissingField, "`rules` (the proposed file's text) is required");
  }
  if (rules.get_string().get(text) != simdjson::SUCCESS || text.size() > kMaxImpactRulesBytes) {
    return refusal(ErrorCode::kBadField, "`rules` must be the rules file's text, at most 16 MiB");
  }
  request.rules = std::string(text);
  request.file = "proposal.toml";
  auto file = object["file"];
  if (file.error() == simdjson::SUCCESS) {
    if (file.get_string().get(text) != simdjson::SUCCESS || text.empty() || text.size() > 4096) {
      return refusal(ErrorCode::kBadField, "`file` must be a file name (1 to 4096 bytes)");
    }
    request.file = std::string(text);
  }
  Result<std::optional<std::int64_t>> at = at_of(object);
  if (!at) return at.status();
  request.at_ms = *at;
  auto top = object["top"];
  if (top.error() == simdjson::SUCCESS && (top.get_uint64().get(request.top) != simdjson::SUCCESS ||
                                           request.top == 0 || request.top > kMaxTopN)) {
    return refusal(ErrorCode::kBadField, "`top` must be an integer from 1 to 10000");
  }
  auto rows = object["rows"];
  if (rows.error() == simdjson::SUCCESS) {
    simdjson::dom::array range;
    std::uint64_t first = 0, second = 0;
    if (rows.get_array().get(range) != simdjson::SUCCESS || range.size() != 2 ||
        range.at(0).get_uint64().get(first) != simdjson::SUCCESS ||
        range.at(1).get_uint64().get(second) != simdjson::SUCCESS || first >= second ||
        second > kKeyGroups) {
      return refusal(ErrorCode::kBadField,
                     "`rows` must be [FROM, TO], key groups with 0 <= FROM < TO <= 4096");
    }
    request.rows =
        std::make_pair(static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(second));
  }
  return Request(std::move(request));
}

Result<Request> alerts_request(Object object) {
  AlertsRequest request;
  auto since_field = object["since"];
  if (since_field.error() == simdjson::SUCCESS &&
      since_field.get_uint64().get(request.since) != simdjson::SUCCESS) {
    return refusal(ErrorCode::kBadField, "`since` must be a sequence number (an integer >= 0)");
  }
  auto limit_field = object["limit"];
  if (limit_field.error() == simdjson::SUCCESS &&
      (limit_field.get_uint64().get(request.limit) != simdjson::SUCCESS || request.limit == 0 ||
       request.limit > kMaxAlertsLimit)) {
    return refusal(ErrorCode::kBadField, "`limit` must be an integer from 1 to 10000");
  }
  return Request(request);
}

std::string unknown_op_message(std::string_view op) {
  // At most 32 bytes of what was sent: a huge op name is not echoed whole.
  std::string message = "unknown op `";
  message.append(op.substr(0, 32));
  if (op.size() > 32) message += "...";
  message += "`; expected one of ";
  for (std::size_t i = 0; i < kOpNames.size(); ++i) {
    if (i > 0) message += ", ";
    message.append(kOpNames[i]);
  }
  return message;
}

}  // namespace

std::string_view to_string(Op op) noexcept { return kOpNames[static_cast<std::size_t>(op)]; }

std::optional<Op> op_named(std::string_view name) noexcept {
  const auto index = index_of(kOpNames, name);
  return index ? std::optional<Op>(static_cast<Op>(*index)) : std::nullopt;
}

std::string_view to_string(ErrorCode code) noexcept {
  return kErrorCodeNames[static_cast<std::size_t>(code)];
}

std::optional<ErrorCode> error_code_named(std::string_view name) noexcept {
  const auto index = index_of(kErrorCodeNames, name);
  return index ? std::optional<ErrorCode>(static_cast<ErrorCode>(*index)) : std::nullopt;
}

Status refusal(ErrorCode code, std::string message) {
  return Status::refused(static_cast<std::uint8_t>(code), std::move(message));
}

std::optional<ErrorCode> error_code_of(const Status& status) noexcept {
  if (status.code() != Status::Code::kRefused || status.refusal() >= kErrorCodeNames.size()) {
    return std::nullopt;
  }
  return static_cast<ErrorCode>(status.refusal());
}

std::string_view to_string(Order order) noexcept {
  return kOrderNames[static_cast<std::size_t>(order)];
}

Op op_of(const Request& request) noexcept { return static_cast<Op>(request.index()); }

const std::string* subject_of(const Request& request) noexcept {
  if (const auto* score = std::get_if<ScoreRequest>(&request)) return &score->subject;
  if (const auto* explain = std::get_if<ExplainRequest>(&request)) return &explain->subject;
  if (const auto* history = std::get_if<HistoryRequest>(&request)) return &history->subject;
  return nullptr;
}

Result<Request> parse_request(std::string_view json, simdjson::dom::parser& parser) {
  simdjson::dom::element document;
  if (parser.parse(json.data(), json.size()).get(document) != simdjson::SUCCESS) {
    return refusal(ErrorCode::kBadRequest, "the request is not valid JSON");
  }
  Object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return refusal(ErrorCode::kBadRequest, "the request must be a JSON object");
  }
  auto op_field = object["op"];
  if (op_field.error() == simdjson::NO_SUCH_FIELD) {
    return refusal(ErrorCode::kMissingField, "`op` is required");
  }
  std::string_view name;
  if (op_field.get_string().get(name) != simdjson::SUCCESS) {
    return refusal(ErrorCode::kBadField, "`op` must be a string");
  }
  const std::optional<Op> op = op_named(name);
  if (!op) return refusal(ErrorCode::kUnknownOp, unknown_op_message(name));
  switch (*op) {
    case Op::kScore:
      return subject_request<ScoreRequest>(object);
    case Op::kExplain:
      return subject_request<ExplainRequest>(object);
    case Op::kHistory:
      return subject_request<HistoryRequest>(object);
    case Op::kTop:
      return top_request(object);
    case Op::kStats:
      return Request(StatsRequest{});
    case Op::kReload:
      return Request(ReloadRequest{});
    case Op::kWorkers:
      return workers_request(object);
    case Op::kSnapshot:
      return Request(SnapshotRequest{});
    case Op::kImpact:
      return impact_request(object);
    case Op::kAlerts:
      return alerts_request(object);
  }
  return Status::internal("an op without a parser");
}

Result<Request> parse_request(std::string_view json) {
  simdjson::dom::parser parser;
  return parse_request(json, parser);
}

std::string to_json(const Request& request) {
  std::string out;
  JsonWriter json(out);
  json.begin_object().field("op", to_string(op_of(request)));
  std::visit(
      [&](const auto& r) {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, ScoreRequest> || std::is_same_v<R, ExplainRequest>) {
          json.field("subject", r.subject);
          if (r.at_ms) json.field("at", *r.at_ms);
        } else if constexpr (std::is_same_v<R, HistoryRequest>) {
          json.field("subject", r.subject);
        } else if constexpr (std::is_same_v<R, TopRequest>) {
          json.field("n", r.n).field("order", to_string(r.order));
        } else if constexpr (std::is_same_v<R, WorkersRequest>) {
          if (r.set) json.field("set", *r.set);
        } else if constexpr (std::is_same_v<R, AlertsRequest>) {
          json.field("since", r.since).field("limit", r.limit);
        } else if constexpr (std::is_same_v<R, ImpactRequest>) {
          json.field("rules", r.rules).field("file", r.file);
          if (r.at_ms) json.field("at", *r.at_ms);
          json.field("top", r.top);
          if (r.rows) {
            json.key("rows").begin_array().value(r.rows->first).value(r.rows->second).end_array();
          }
        }
      },
      request);
  json.end_object();
  return out;
}

}  // namespace tally::api
