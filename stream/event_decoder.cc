#include "stream/event_decoder.h"

#include <cstring>

#include "stream/event_time.h"
#include "stream/key_groups.h"

namespace tally::stream {
namespace {

DecodeResult refuse(RejectReason reason, const char* detail) { return {false, reason, detail}; }

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// Reads a required non-empty string field into `out`.
template <std::size_t N>
DecodeResult read_string(simdjson::ondemand::value value, FixedString<N>& out,
                         const char* wrong_type, const char* too_long, bool allow_empty = false) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return refuse(RejectReason::kBadField, wrong_type);
  }
  if (text.empty() && !allow_empty) return refuse(RejectReason::kBadField, wrong_type);
  if (!out.assign(text)) return refuse(RejectReason::kOversized, too_long);
  return {};
}

}  // namespace

EventDecoder::EventDecoder(DecoderOptions options) : options_(options) {}

DecodeResult EventDecoder::decode_line(std::string_view line, const EventTypeResolver& types,
                                       Event& out) {
  if (line.size() > options_.max_line_bytes) {
    return refuse(RejectReason::kOversized, "the line is longer than --max-line-bytes");
  }
  simdjson::ondemand::document document;
  if (parser_.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING)
          .get(document) != simdjson::SUCCESS) {
    return refuse(RejectReason::kMalformedJson, "not valid JSON");
  }
  simdjson::ondemand::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return refuse(RejectReason::kMalformedJson, "not a JSON object");
  }
  out.id.clear();
  out.subject.clear();
  out.revokes.clear();
  out.source.clear();
  out.type = nullptr;
  bool has_id = false, has_subject = false, has_type = false, has_time = false, has_revokes = false;
  std::string_view type_name;
  char type_buffer[128];
  DecodeResult time_result;
  // One pass over the fields, in whatever order they come; the first of a
  // duplicated key wins. Unknown fields are skipped (forward compatibility).
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return refuse(RejectReason::kMalformedJson, "not valid JSON");
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return refuse(RejectReason::kMalformedJson, "not valid JSON");
    }
    DecodeResult result;
    if (key == "id" && !has_id) {
      has_id = true;
      result = read_string(value, out.id, "field `id`: must be a non-empty string",
                           "field `id`: longer than 64 bytes");
    } else if (key == "subject" && !has_subject) {
      has_subject = true;
      result = read_string(value, out.subject, "field `subject`: must be a non-empty string",
                           "field `subject`: longer than 128 bytes");
    } else if (key == "type" && !has_type) {
      has_type = true;
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
        result = refuse(RejectReason::kBadField, "field `type`: must be a non-empty string");
      } else if (text.size() > sizeof type_buffer) {
        result = refuse(RejectReason::kUnknownType, "field `type`: no rule for this type");
      } else {
        // The parser's string buffer is reused by later fields: keep a copy.
        std::memcpy(type_buffer, text.data(), text.size());
        type_name = std::string_view(type_buffer, text.size());
      }
    } else if (key == "time" && !has_time) {
      has_time = true;
      simdjson::ondemand::json_type kind;
      if (value.type().get(kind) != simdjson::SUCCESS) {
        result = refuse(RejectReason::kMalformedJson, "not valid JSON");
      } else if (kind == simdjson::ondemand::json_type::string) {
        std::string_view text;
        std::optional<std::int64_t> ms;
        if (value.get_string().get(text) == simdjson::SUCCESS) ms = parse_rfc3339_ms(text);
        if (!ms) {
          time_result = refuse(RejectReason::kBadTime,
                               "field `time`: not RFC 3339 or integer epoch milliseconds");
        } else {
          out.time_ms = *ms;
        }
      } else if (kind == simdjson::ondemand::json_type::number) {
        std::int64_t ms = 0;
        if (value.get_int64().get(ms) != simdjson::SUCCESS || ms < 0) {
          time_result = refuse(RejectReason::kBadTime,
                               "field `time`: epoch milliseconds must be a non-negative integer");
        } else {
          out.time_ms = ms;
        }
      } else {
        time_result = refuse(RejectReason::kBadTime,
                             "field `time`: not RFC 3339 or integer epoch milliseconds");
      }
    } else if (key == "source") {
      result = read_string(value, out.source, "field `source`: must be a string",
                           "field `source`: longer than 64 bytes", true);
    } else if (key == "revokes" && !has_revokes) {
      has_revokes = true;
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS || text.empty() ||
          !out.revokes.assign(text)) {
        out.revokes.clear();
      }
    } else if (key == "attrs") {
      simdjson::ondemand::json_type kind;
      if (value.type().get(kind) != simdjson::SUCCESS ||
          kind != simdjson::ondemand::json_type::object) {
        result = refuse(RejectReason::kBadField, "field `attrs`: must be an object");
      }
    }
    if (!result.ok) return result;
  }
  // The object must be the whole line.
  // After the object, the document must be exhausted: current_location()
  // answers OUT_OF_BOUNDS exactly when no token is left.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return refuse(RejectReason::kMalformedJson, "trailing content after the object");
  }
  if (!has_id) return refuse(RejectReason::kMissingField, "field `id` is required");
  if (!has_subject) return refuse(RejectReason::kMissingField, "field `subject` is required");
  if (!has_type) return refuse(RejectReason::kMissingField, "field `type` is required");
  if (!has_time) return refuse(RejectReason::kMissingField, "field `time` is required");
  if (!time_result.ok) return time_result;
  out.type = types.resolve(type_name);
  if (out.type == nullptr)
    return refuse(RejectReason::kUnknownType, "field `type`: no rule for this type");
  if (out.type->is_revoke) {
    if (out.revokes.empty()) {
      return refuse(RejectReason::kBadRevoke,
                    "a revoke needs `revokes`: the id (at most 64 bytes) of the event it cancels");
    }
    if (out.revokes.view() == out.id.view()) {
      return refuse(RejectReason::kBadRevoke, "a revoke cannot revoke itself");
    }
  } else {
    out.revokes.clear();
  }
  out.subject_hash = stable_hash64(out.subject.view());
  return {};
}

std::uint32_t EventDecoder::decode_batch(std::string_view payload, const EventTypeResolver& types,
                                         DecodeSink& sink) {
  if (padded_.size() < payload.size() + simdjson::SIMDJSON_PADDING) {
    padded_.resize(payload.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(padded_.data(), payload.data(), payload.size());
  std::memset(padded_.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  return decode_padded_batch(std::string_view(padded_.data(), payload.size()), types, sink);
}

std::uint32_t EventDecoder::decode_padded_batch(std::string_view payload,
                                                const EventTypeResolver& types, DecodeSink& sink) {
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
    const DecodeResult result = decode_line(line, types, scratch_);
    if (result.ok) {
      sink.on_event(scratch_);
    } else {
      sink.on_reject(line_number, line, result);
    }
  }
  return lines;
}

}  // namespace tally::stream
