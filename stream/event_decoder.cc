// How a line becomes an Event (the contract is in event_decoder.h).
//
// One pass over the object's fields, in whatever order they come: each field
// the decoder knows is read at once (strings are copied out of simdjson's
// string buffer, which the next line reuses, into the Event's inline
// strings); a problem with a field is noted, not returned, and the pass goes
// on to the end of the line, so that the reason given for a line never
// depends on its field order and a line that is not JSON at all is always
// `malformed_json`. The verdict, in this order of precedence:
//
//   1. `oversized`       the line is longer than max_line_bytes (not parsed)
//   2. `malformed_json`  not exactly one valid JSON object (trailing content,
//                        invalid UTF-8 or escape, bad number, ...), anywhere
//                        in the line, including inside `attrs` and fields
//                        Tally does not read
//   3. the first field, in the order id, subject, type, time, source, attrs,
//      revokes, that is missing (`missing_field`), has the wrong JSON type or
//      is empty (`bad_field`), is longer than its limit (`oversized`), or is
//      not a time (`bad_time`)
//   4. `unknown_type`    no rule for `type`
//   5. a `revoke` whose `revokes` is absent, not a string, empty or its own
//      id (`bad_revoke`), or longer than an id may be (`oversized`)
//
// Decisions the contract leaves open:
// - A field Tally reads (the seven above) may appear once; a second
//   occurrence is `bad_field`, because parsers disagree on which of two
//   values wins and a subject must never depend on that. Repeated unknown
//   fields are not Tally's business and are ignored, like all unknown fields.
// - `time` is any instant RFC 3339 can write in UTC with a four-digit year,
//   0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, in either form; so
//   negative epoch milliseconds (before 1970) are accepted, exactly as their
//   RFC 3339 spelling is. Anything outside that range is `bad_time`.
// - `source` may be empty (the same as absent); `revokes` on an event that is
//   not a revoke is ignored whatever its value (it is still checked as JSON).
// - A revoke's `attrs.reason` (the appeal's outcome) is kept: it must be a
//   string (`bad_field`) of at most 120 bytes (`oversized`). Other events'
//   attrs, and every other key of attrs, are checked as JSON and not kept.
#include "stream/event_decoder.h"

#include <array>
#include <cstring>
#include <optional>

#include "core/event_time.h"
#include "core/key_groups.h"

namespace tally::stream {
namespace {

using simdjson::error_code;
using simdjson::SUCCESS;
namespace ondemand = simdjson::ondemand;

// The fields Tally reads, in the order in which their problems are reported.
enum Field : std::uint8_t {
  kId,
  kSubject,
  kType,
  kTime,
  kSource,
  kAttrs,
  kRevokes,
  kFieldCount,
  kOtherField = kFieldCount,
};
constexpr Field kLastRequired = kTime;

// The texts must name the limits in event.h; update both together.
static_assert(kMaxIdBytes == 64 && kMaxSubjectBytes == 128 && kMaxSourceBytes == 64);

struct FieldText {
  const char* missing;   // absent (required fields only)
  const char* bad;       // wrong JSON type, or empty where that is not allowed
  const char* too_long;  // longer than its FixedString
  const char* repeated;  // appears twice
};

constexpr std::array<FieldText, kFieldCount> kText = {{
    {"field `id` is required", "field `id`: must be a non-empty string",
     "field `id`: longer than 64 bytes", "field `id`: appears more than once"},
    {"field `subject` is required", "field `subject`: must be a non-empty string",
     "field `subject`: longer than 128 bytes", "field `subject`: appears more than once"},
    {"field `type` is required", "field `type`: must be a non-empty string", "",
     "field `type`: appears more than once"},
    {"field `time` is required",
     "field `time`: not RFC 3339 or integer epoch milliseconds in years 0000-9999", "",
     "field `time`: appears more than once"},
    {"", "field `source`: must be a string", "field `source`: longer than 64 bytes",
     "field `source`: appears more than once"},
    {"", "field `attrs`: must be an object", "", "field `attrs`: appears more than once"},
    {"", "a revoke needs `revokes`: the non-empty id of the event it cancels",
     "field `revokes`: longer than 64 bytes (no id is)", "field `revokes`: appears more than once"},
}};

constexpr const char* kUnknownTypeText = "field `type`: no rule for this type";
constexpr const char* kReasonNotStringText = "field `attrs.reason`: must be a string";
constexpr const char* kReasonTooLongText = "field `attrs.reason`: longer than 120 bytes";
static_assert(kMaxReasonBytes == 120);
constexpr const char* kSelfRevokeText = "a revoke cannot revoke itself (`revokes` equals `id`)";

Status malformed(error_code error) noexcept {
  const char* detail = "not valid JSON";
  switch (error) {
    case simdjson::UTF8_ERROR:
      detail = "not valid UTF-8";
      break;
    case simdjson::UNESCAPED_CHARS:
      detail = "a control character inside a string is not escaped";
      break;
    case simdjson::STRING_ERROR:
      detail = "a string has an invalid escape";
      break;
    case simdjson::NUMBER_ERROR:
      detail = "a number is not valid JSON";
      break;
    case simdjson::DEPTH_ERROR:
      detail = "nested deeper than 1024 levels";
      break;
    default:
      break;
  }
  return rejected(RejectReason::kMalformedJson, detail);
}

Field field_of(std::string_view key) noexcept {
  switch (key.size()) {
    case 2:
      return key == "id" ? kId : kOtherField;
    case 4:
      return key == "type" ? kType : key == "time" ? kTime : kOtherField;
    case 5:
      return key == "attrs" ? kAttrs : kOtherField;
    case 6:
      return key == "source" ? kSource : kOtherField;
    case 7:
      return key == "subject" ? kSubject : key == "revokes" ? kRevokes : kOtherField;
    default:
      return kOtherField;
  }
}

// RFC 8259 number grammar. simdjson's own number parsers refuse some valid
// numbers (integers past 64 bits, doubles past their range), so validity is
// decided here, on the token.
bool is_json_number(std::string_view token) noexcept {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);  // raw_json_token() keeps the whitespace after it
  }
  const auto digit = [&](std::size_t at) {
    return at < token.size() && token[at] >= '0' && token[at] <= '9';
  };
  std::size_t at = 0;
  if (at < token.size() && token[at] == '-') ++at;
  if (!digit(at)) return false;
  if (token[at++] != '0') {
    while (digit(at)) ++at;
  }
  if (at < token.size() && token[at] == '.') {
    if (!digit(++at)) return false;
    while (digit(at)) ++at;
  }
  if (at < token.size() && (token[at] == 'e' || token[at] == 'E')) {
    ++at;
    if (at < token.size() && (token[at] == '+' || token[at] == '-')) ++at;
    if (!digit(at)) return false;
    while (digit(at)) ++at;
  }
  return at == token.size();
}

// The field a key names, read from the raw JSON (`raw` points just past the
// key's opening quote): a known key is matched with its closing quote, so
// without unescaping it. Reading a few bytes past a short key is safe (the
// padding again). kOtherField may still be a known key spelled with escapes
// ("\u0069d"); field_of_key() sees to that.
Field field_of_raw(const char* raw) noexcept {
  const auto is = [raw](std::string_view key_and_quote) {
    return std::memcmp(raw, key_and_quote.data(), key_and_quote.size()) == 0;
  };
  switch (raw[0]) {
    case 'i':
      return is("id\"") ? kId : kOtherField;
    case 's':
      return is("subject\"") ? kSubject : is("source\"") ? kSource : kOtherField;
    case 't':
      return is("type\"") ? kType : is("time\"") ? kTime : kOtherField;
    case 'a':
      return is("attrs\"") ? kAttrs : kOtherField;
    case 'r':
      return is("revokes\"") ? kRevokes : kOtherField;
    default:
      return kOtherField;
  }
}

// The field a key names, or kOtherField; an error if the key is not a valid
// JSON string (a bad escape).
error_code field_of_key(ondemand::field& member, Field& field) noexcept {
  field = field_of_raw(member.key().raw());
  if (field != kOtherField) return SUCCESS;
  std::string_view key;  // unknown, or escaped: unescape it (which also validates it)
  if (error_code error = member.unescaped_key().get(key)) return error;
  field = field_of(key);
  return SUCCESS;
}

// simdjson On-Demand skips a value it is not asked for by counting brackets,
// without checking what is inside. This walks such a value (attrs, unknown
// fields, a value of the wrong type) so that invalid JSON anywhere in a line
// is `malformed_json`. Depth is bounded as simdjson's DOM parser bounds it,
// which also bounds this recursion.
error_code check_json(ondemand::value& value, std::size_t depth = 1) noexcept {
  constexpr std::size_t kMaxDepth = 1024;
  ondemand::json_type kind;
  if (error_code error = value.type().get(kind)) return error;
  switch (kind) {
    case ondemand::json_type::object: {
      if (depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
      ondemand::object object;
      if (error_code error = value.get_object().get(object)) return error;
      for (auto result : object) {
        if (error_code error = result.error()) return error;
        ondemand::field&& field = std::move(result).value_unsafe();  // see decode_line
        std::string_view key;  // not used, but its escapes must be valid
        if (error_code error = field.unescaped_key().get(key)) return error;
        if (error_code error = check_json(field.value(), depth + 1)) return error;
      }
      return SUCCESS;
    }
    case ondemand::json_type::array: {
      if (depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
      ondemand::array array;
      if (error_code error = value.get_array().get(array)) return error;
      for (auto result : array) {
        if (error_code error = result.error()) return error;
        ondemand::value&& item = std::move(result).value_unsafe();
        if (error_code error = check_json(item, depth + 1)) return error;
      }
      return SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case ondemand::json_type::number:
      return is_json_number(value.raw_json_token()) ? SUCCESS : simdjson::NUMBER_ERROR;
    case ondemand::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag) == SUCCESS ? SUCCESS : simdjson::TAPE_ERROR;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      if (error_code error = value.is_null().get(is_null)) return error;
      return is_null ? SUCCESS : simdjson::TAPE_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

enum class Reason : std::uint8_t { kAbsent, kPresent, kNotString, kTooLong };

// Checks `attrs` (an object) like check_json, and copies `attrs.reason` out.
error_code read_attrs(ondemand::value& value, FixedString<kMaxReasonBytes>& reason,
                      Reason& state) noexcept {
  ondemand::object object;
  if (error_code error = value.get_object().get(object)) return error;
  for (auto result : object) {
    if (error_code error = result.error()) return error;
    ondemand::field&& field = std::move(result).value_unsafe();  // see decode_line
    std::string_view key;
    if (error_code error = field.unescaped_key().get(key)) return error;
    if (key == "reason" && state == Reason::kAbsent) {
      ondemand::json_type kind;
      if (error_code error = field.value().type().get(kind)) return error;
      if (kind == ondemand::json_type::string) {
        std::string_view text;
        if (error_code error = field.value().get_string().get(text)) return error;
        state = reason.assign(text) ? Reason::kPresent : Reason::kTooLong;
        continue;
      }
      state = Reason::kNotString;
    }
    if (error_code error = check_json(field.value(), 2)) return error;
  }
  return SUCCESS;
}

// Reads a string value. `text` is set only on success; a value of another
// JSON type leaves it empty and answers `wrong_type` (after checking that the
// value is valid JSON). Any other error is the line's: it is not JSON.
error_code read_string(ondemand::value& value, std::string_view& text, bool& wrong_type) noexcept {
  const error_code error = value.get_string().get(text);
  wrong_type = error == simdjson::INCORRECT_TYPE;
  if (wrong_type) {
    text = {};
    return check_json(value);
  }
  return error;
}

// What a line's fields said, gathered in one pass and judged after it.
struct FieldProblems {
  std::uint8_t seen = 0;  // bit per Field
  // The first problem of each field: its detail (null: none) and reason.
  // Plain values, not Status: this is filled for every line.
  std::array<const char*, kFieldCount> detail{};
  std::array<RejectReason, kFieldCount> reason{};

  bool has(Field field) const noexcept { return (seen & (1u << field)) != 0; }
  void note(Field field, RejectReason why, const char* text) noexcept {
    if (detail[field] == nullptr) {
      detail[field] = text;
      reason[field] = why;
    }
  }
};

enum class Revokes : std::uint8_t { kAbsent, kUnusable, kTooLong, kPresent };

// Reads a required-non-empty (or optional) string field into `out`.
template <std::size_t N>
error_code read_text_field(ondemand::value& value, Field field, bool allow_empty,
                           FixedString<N>& out, FieldProblems& problems) noexcept {
  std::string_view text;
  bool wrong_type = false;
  if (error_code error = read_string(value, text, wrong_type)) return error;
  if (wrong_type || (text.empty() && !allow_empty)) {
    problems.note(field, RejectReason::kBadField, kText[field].bad);
  } else if (!out.assign(text)) {
    problems.note(field, RejectReason::kOversized, kText[field].too_long);
  }
  return SUCCESS;
}

bool in_time_range(std::int64_t ms) noexcept {
  return ms >= kEarliestTimeMs && ms <= kLatestTimeMs;
}

error_code read_time(ondemand::value& value, std::int64_t& out, FieldProblems& problems) noexcept {
  ondemand::json_type kind;
  if (error_code error = value.type().get(kind)) return error;
  if (kind == ondemand::json_type::number) {
    std::int64_t ms = 0;
    if (value.get_int64().get(ms) == SUCCESS && in_time_range(ms)) {
      out = ms;
      return SUCCESS;
    }
    // A fraction, an exponent, or out of range: a number, but not a time.
    if (!is_json_number(value.raw_json_token())) return simdjson::NUMBER_ERROR;
  } else if (kind == ondemand::json_type::string) {
    std::string_view text;
    if (error_code error = value.get_string().get(text)) return error;
    if (const std::optional<std::int64_t> ms = parse_rfc3339_ms(text)) {
      out = *ms;
      return SUCCESS;
    }
  } else if (error_code error = check_json(value)) {
    return error;
  }
  problems.note(kTime, RejectReason::kBadTime, kText[kTime].bad);
  return SUCCESS;
}

bool is_blank(std::string_view line) noexcept {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

EventDecoder::EventDecoder(DecoderOptions options) : options_(options) {}

Status EventDecoder::decode_line(std::string_view line, const EventTypeResolver& types,
                                 Event& out) {
  if (line.size() > options_.max_line_bytes) {
    return rejected(RejectReason::kOversized, "line: longer than max_line_bytes");
  }
  ondemand::document document;
  if (error_code error =
          parser_.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING)
              .get(document)) {
    return malformed(error);
  }
  ondemand::object object;
  if (error_code error = document.get_object().get(object)) {
    return error == simdjson::INCORRECT_TYPE
               ? rejected(RejectReason::kMalformedJson, "not a JSON object")
               : malformed(error);
  }

  out.id.clear();
  out.subject.clear();
  out.revokes.clear();
  out.source.clear();
  out.reason.clear();
  out.type = nullptr;
  out.time_ms = 0;
  FieldProblems problems;
  Revokes revokes = Revokes::kAbsent;
  Reason reason = Reason::kAbsent;
  bool type_resolved = false;

  for (auto result : object) {
    // The field is used in place, not copied out with get(): GCC copies it
    // through memory in a way that defeats store forwarding, which cost
    // about a third of the decoder's time.
    if (error_code error = result.error()) return malformed(error);
    ondemand::field&& member = std::move(result).value_unsafe();
    Field field;
    if (error_code error = field_of_key(member, field)) return malformed(error);
    ondemand::value& value = member.value();
    error_code error = SUCCESS;
    if (field == kOtherField) {
      error = check_json(value);  // forward compatibility: ignored, but must be JSON
    } else if (problems.has(field)) {
      problems.note(field, RejectReason::kBadField, kText[field].repeated);
      error = check_json(value);
    } else {
      problems.seen |= static_cast<std::uint8_t>(1u << field);
      switch (field) {
        case kId:
          error = read_text_field(value, kId, false, out.id, problems);
          break;
        case kSubject:
          error = read_text_field(value, kSubject, false, out.subject, problems);
          break;
        case kSource:
          error = read_text_field(value, kSource, true, out.source, problems);
          break;
        case kType: {
          // Resolved here, while simdjson's copy of the string is still valid.
          std::string_view text;
          bool wrong_type = false;
          error = read_string(value, text, wrong_type);
          if (error == SUCCESS) {
            if (wrong_type || text.empty()) {
              problems.note(kType, RejectReason::kBadField, kText[kType].bad);
            } else {
              out.type = types.resolve(text);
              type_resolved = out.type != nullptr;
            }
          }
          break;
        }
        case kTime:
          error = read_time(value, out.time_ms, problems);
          break;
        case kAttrs: {
          ondemand::json_type kind;
          error = value.type().get(kind);
          if (error == SUCCESS) {
            if (kind != ondemand::json_type::object) {
              problems.note(kAttrs, RejectReason::kBadField, kText[kAttrs].bad);
              error = check_json(value);
            } else {
              error = read_attrs(value, out.reason, reason);
            }
          }
          break;
        }
        case kRevokes: {
          // Judged once the type is known: a non-revoke ignores it.
          std::string_view text;
          bool wrong_type = false;
          error = read_string(value, text, wrong_type);
          if (error == SUCCESS) {
            revokes = wrong_type || text.empty() ? Revokes::kUnusable
                      : out.revokes.assign(text) ? Revokes::kPresent
                                                 : Revokes::kTooLong;
          }
          break;
        }
        case kFieldCount:
          break;
      }
    }
    if (error != SUCCESS) return malformed(error);
  }
  // The object must be the whole line: current_location() answers
  // OUT_OF_BOUNDS exactly when no token is left after it.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return rejected(RejectReason::kMalformedJson, "trailing content after the object");
  }

  for (std::uint8_t field = kId; field < kFieldCount; ++field) {
    const auto which = static_cast<Field>(field);
    if (which <= kLastRequired && !problems.has(which)) {
      return rejected(RejectReason::kMissingField, kText[which].missing);
    }
    if (problems.detail[which] != nullptr) {
      return rejected(problems.reason[which], problems.detail[which]);
    }
  }
  if (!type_resolved) return rejected(RejectReason::kUnknownType, kUnknownTypeText);
  if (out.type->is_revoke) {
    switch (revokes) {
      case Revokes::kAbsent:
      case Revokes::kUnusable:
        return rejected(RejectReason::kBadRevoke, kText[kRevokes].bad);
      case Revokes::kTooLong:
        return rejected(RejectReason::kOversized, kText[kRevokes].too_long);
      case Revokes::kPresent:
        if (out.revokes.view() == out.id.view()) {
          return rejected(RejectReason::kBadRevoke, kSelfRevokeText);
        }
        break;
    }
    if (reason == Reason::kNotString)
      return rejected(RejectReason::kBadField, kReasonNotStringText);
    if (reason == Reason::kTooLong) return rejected(RejectReason::kOversized, kReasonTooLongText);
  } else {
    out.revokes.clear();
    out.reason.clear();
  }
  out.subject_hash = stable_hash64(out.subject.view());
  return {};
}

std::uint32_t EventDecoder::decode_batch(std::string_view payload, const EventTypeResolver& types,
                                         DecodeSink& sink, SenderRights rights) {
  // Grows to the largest batch seen, then is reused: no allocation per batch.
  // After a batch larger than kKeptBufferBytes the buffer is given back, so
  // one huge message does not keep its memory for the life of the process.
  const std::size_t padded_size = payload.size() + simdjson::SIMDJSON_PADDING;
  if (padded_.size() < padded_size) padded_.resize(padded_size);
  if (!payload.empty()) std::memcpy(padded_.data(), payload.data(), payload.size());
  std::memset(padded_.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  const std::uint32_t lines =
      decode_padded_batch(std::string_view(padded_.data(), payload.size()), types, sink, rights);
  if (padded_.capacity() > kKeptBufferBytes) std::string().swap(padded_);
  return lines;
}

std::uint32_t EventDecoder::decode_padded_batch(std::string_view payload,
                                                const EventTypeResolver& types, DecodeSink& sink,
                                                SenderRights rights) {
  std::uint32_t line_number = 0;
  std::uint32_t lines = 0;
  std::size_t start = 0;
  while (start < payload.size()) {
    std::size_t end = payload.find('\n', start);
    if (end == std::string_view::npos) end = payload.size();
    std::string_view line = payload.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) continue;
    ++lines;
    const Status result = decode_line(line, types, scratch_);
    if (result.is_ok() && !(scratch_.type->is_revoke ? rights.revokes : rights.events)) {
      sink.on_reject(
          line_number, line,
          rejected(RejectReason::kForbidden,
                   scratch_.type->is_revoke ? "a revoke: the sender lacks the `appeals` role"
                                            : "an event: the sender lacks the `producer` role"));
    } else if (result.is_ok()) {
      scratch_.actor_ref = scratch_.type->is_revoke ? rights.actor_ref : kNoActor;
      sink.on_event(scratch_, line_number);
    } else {
      sink.on_reject(line_number, line, result);
    }
  }
  return lines;
}

}  // namespace tally::stream
