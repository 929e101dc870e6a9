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

#include "core/event.h"
#include "core/reject_reason.h"
#include "core/status.h"

namespace tally::stream {

struct DecoderOptions {
  // A line longer than this is rejected `oversized` without being parsed.
  // Default 64 KiB: a real event is a few hundred bytes; attrs may be larger.
  std::size_t max_line_bytes = 64 * 1024;
};

// A line refused: Status::rejected carrying the RejectReason and a static
// detail naming the field or problem ("field `time`: not RFC 3339 ..."). It
// allocates nothing, so a batch of bad lines costs no more than good ones.
inline Status rejected(RejectReason reason, const char* static_detail) noexcept {
  return Status::rejected(static_cast<std::uint8_t>(reason), static_detail);
}
// The reason of a refused line (`status` must be a rejection).
inline RejectReason reject_reason_of(const Status& status) noexcept {
  return static_cast<RejectReason>(status.reject_reason());
}

// Receives every line of a batch, in order. `line_number` counts from 1 and
// includes blank lines, so it matches what the sender sees in its file.
class DecodeSink {
 public:
  virtual ~DecodeSink() = default;
  virtual void on_event(const Event& event, std::uint32_t line_number) = 0;
  // `why` is a rejection: reject_reason_of(why) and why.message().
  virtual void on_reject(std::uint32_t line_number, std::string_view line, const Status& why) = 0;
};

// What the sender of a batch may send (tallyd --auth: its roles); a line it
// may not is refused `forbidden`. Everything, without --auth.
struct SenderRights {
  bool events = true;   // the producer role
  bool revokes = true;  // the appeals role
  // The authenticated sender, recorded with each revoke it sends
  // (Event::actor_ref); kNoActor without --auth.
  std::uint16_t actor_ref = kNoActor;
};

class EventDecoder {
 public:
  explicit EventDecoder(DecoderOptions options = {});

  // Decodes one line (no newline). `line` must be readable for
  // simdjson::SIMDJSON_PADDING bytes past its end (decode_batch guarantees it).
  // Ok, with `out` filled, or the rejection.
  Status decode_line(std::string_view line, const EventTypeResolver& types, Event& out);

  // Copies `payload` into the reusable padded buffer, then decodes each line.
  // Returns the number of non-blank lines.
  std::uint32_t decode_batch(std::string_view payload, const EventTypeResolver& types,
                             DecodeSink& sink, SenderRights rights = {});

  // Same, for a caller whose buffer already has SIMDJSON_PADDING readable
  // bytes after `payload` (no copy).
  std::uint32_t decode_padded_batch(std::string_view payload, const EventTypeResolver& types,
                                    DecodeSink& sink, SenderRights rights = {});

 private:
  DecoderOptions options_;
  simdjson::ondemand::parser parser_;
  // Batch copy with padding: grows to the largest batch, and is freed after
  // one over this size.
  static constexpr std::size_t kKeptBufferBytes = 4 << 20;
  std::string padded_;
  Event scratch_;
};

}  // namespace tally::stream
