// The canonical event as it travels from the wire to a shard worker.
//
// An Event is a fixed-size, trivially copyable value: decoding writes it
// straight into a queue slot and a worker reads it from there, so the hot path
// allocates nothing per event. Strings are held inline with a documented
// maximum length; a longer field is rejected (`oversized`) rather than cut,
// because a truncated id or subject would silently merge two subjects.
//
// Thread-safety: a plain value; no sharing.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

namespace tally {

// Inline string of at most Capacity bytes. Trivially copyable.
template <std::size_t Capacity>
class FixedString {
 public:
  static constexpr std::size_t kCapacity = Capacity;

  // Returns false (and leaves the string empty) if `text` does not fit.
  bool assign(std::string_view text) noexcept {
    if (text.size() > Capacity) {
      size_ = 0;
      return false;
    }
    if (!text.empty()) std::memcpy(bytes_.data(), text.data(), text.size());  // data() may be null
    size_ = static_cast<std::uint16_t>(text.size());
    return true;
  }
  void clear() noexcept { size_ = 0; }
  std::string_view view() const noexcept { return {bytes_.data(), size_}; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::uint16_t size_ = 0;
  std::array<char, Capacity> bytes_;
};

// Field limits, documented in the README ("Bad input"); changing them changes the
// contract for what is `oversized`.
inline constexpr std::size_t kMaxIdBytes = 64;
inline constexpr std::size_t kMaxSubjectBytes = 128;
inline constexpr std::size_t kMaxSourceBytes = 64;
// A revoke's `attrs.reason` (why an appeal was upheld), kept for `explain`.
inline constexpr std::size_t kMaxReasonBytes = 120;
// An authenticated client's name (the auth file's [[client]] name), and the
// actor ref of an event no authenticated client sent.
inline constexpr std::size_t kMaxActorBytes = 64;
inline constexpr std::uint16_t kNoActor = 0xffff;

// Expiry sentinel: a contribution that never expires.
inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// What the decoder needs to know about an event type, resolved once at decode
// time so that events already decoded keep the rules they were decoded with.
// Owned by whoever owns the rule set (the scorer); it must outlive every
// event decoded against it.
struct EventTypeTerms {
  std::int32_t points = 0;
  std::int64_t expires_after_ms = kNever;  // kNever: the points never expire
  bool is_revoke = false;                  // the built-in `revoke` type
};

// Looks up an event type by name. Implemented by the scorer's RuleSet.
// Must be safe to call from any thread once published (it is read-only).
class EventTypeResolver {
 public:
  virtual ~EventTypeResolver() = default;
  // nullptr: no rule for this type (`unknown_type`).
  virtual const EventTypeTerms* resolve(std::string_view type) const noexcept = 0;
};

struct Event {
  FixedString<kMaxIdBytes> id;
  FixedString<kMaxSubjectBytes> subject;
  FixedString<kMaxIdBytes> revokes;  // only for `revoke`
  FixedString<kMaxSourceBytes> source;
  FixedString<kMaxReasonBytes> reason;  // only for `revoke`: attrs.reason
  // Only for `revoke`: the authenticated client that sent it (tallyd --auth),
  // as a ref into the engine's intern table (scorer/intern_table.h: its name
  // is interned like a source), so that the name costs an item 2 bytes, not
  // 66 (it fills the padding before `type`). kNoActor without --auth.
  std::uint16_t actor_ref = kNoActor;
  const EventTypeTerms* type = nullptr;  // never null for a decoded event
  std::int64_t time_ms = 0;              // event time, epoch milliseconds UTC
  std::uint64_t subject_hash = 0;        // routes the event; see key_groups.h
};

static_assert(std::is_trivially_copyable_v<Event>);

}  // namespace tally
