// Decodes NDJSON into Events with simdjson On-Demand.
//
// A batch is received once into a padded buffer and parsed in place; a decoded
// Event copies only its short fields (inline, no heap). Each line is decoded
// independently, so one bad line never affects the rest of its batch. Blank
// lines (empty or whitespace only, including a trailing CR) are skipped and
// not counted.
//
// Thread-safety: one EventDecoder per thread (it owns a simdjson parser).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stream/event.h"
#include "stream/reject_reason.h"

namespace tally::stream {

struct DecoderOptions {
  // A line longer than this is rejected `oversized` without being parsed.
  // Default 64 KiB: a real event is a few hundred bytes; attrs may be larger.
  std::size_t max_line_bytes = 64 * 1024;
};

struct DecodeResult {
  bool ok = true;
  RejectReason reason = RejectReason::kMalformedJson;  // meaningful when !ok
  const char* detail = "";                             // static text naming the field or problem
};

// Receives every line of a batch, in order. `line_number` counts from 1 and
// includes blank lines, so it matches what the sender sees in its file.
class DecodeSink {
 public:
  virtual ~DecodeSink() = default;
  virtual void on_event(const Event& event) = 0;
  virtual void on_reject(std::uint32_t line_number, std::string_view line,
                         const DecodeResult& result) = 0;
};

class EventDecoder {
 public:
  explicit EventDecoder(DecoderOptions options = {});

  // Decodes one line (no newline). `line` must be readable for
  // simdjson::SIMDJSON_PADDING bytes past its end (decode_batch guarantees it).
  DecodeResult decode_line(std::string_view line, const EventTypeResolver& types, Event& out);

  // Copies `payload` into the reusable padded buffer, then decodes each line.
  // Returns the number of non-blank lines.
  std::uint32_t decode_batch(std::string_view payload, const EventTypeResolver& types,
                             DecodeSink& sink);

  // Same, for a caller whose buffer already has SIMDJSON_PADDING readable
  // bytes after `payload` (no copy).
  std::uint32_t decode_padded_batch(std::string_view payload, const EventTypeResolver& types,
                                    DecodeSink& sink);

 private:
  DecoderOptions options_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  // batch copy with padding; grows, never shrinks
  Event scratch_;
};

}  // namespace tally::stream
