// The blob codec: how one subject's state is encoded in one contiguous byte
// blob, and the reads and writes of its records.
//
// A city has millions of subjects and most of them are idle, holding one or
// two contributions; what they cost at rest decides how many fit in a worker.
// So a subject is one small blob (integers in host order, unaligned, read and
// written with memcpy):
//
//   header     u16 size<<1 | u16 revokes_at | u8 subject_len      (5 bytes)
//              or, once a blob nears 32 KiB, for good:
//              u32 size<<1|1 | u32 revokes_at | u8 subject_len    (9 bytes)
//   subject    subject_len bytes
//   contributions, sorted by (time, id):
//              i64 time | u16 rule_ref | u16 source_ref | u8 id_len | id
//              [| Rule* if rule_ref is spilled] [| u8 len, source if spilled]
//                                                     (13 bytes + the id)
//   revokes, sorted by (time, id), from offset revokes_at to size:
//              i64 time | u16 source_ref | u8 id_len | id | u8 target_len
//              | target | u8 reason_len | reason [| u8 len, source if spilled]
//                                          (13 bytes + id + target + reason)
//
// Rules and sources are 2-byte refs into the engine's InternTable
// (intern_table.h), with an inline fallback (InternTable::kSpilled). Points and
// expiry are not stored: they are the Rule's, and every Rule ever published
// outlives the table (rules.h). Bit 7 of a record's id-length byte caches a
// relation between records: on a contribution "some revoke names me"
// (revoked), on a revoke "my target is a contribution here" (not pending).
// The table keeps both up to date on every insert and purge, so scoring and
// the pending listing are linear scans without string searches.
//
// Everything here is inline: the table's apply and score loops are built of
// these reads, and they must compile to straight loads.
//
// Thread-safety: functions of the bytes they are given; no state.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/event.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"

namespace tally::scorer::blob {

// ---- values -----------------------------------------------------------------

inline constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();

inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kNever : kMinTime;
  return sum;
}

// time + expires_after, or kNever (also when the sum would overflow: a date
// beyond the year 292 million does not expire in any meaningful sense).
inline std::int64_t expires_of(std::int64_t time_ms, const Rule& rule) noexcept {
  if (rule.expires_after_ms == kNever) return kNever;
  return saturating_add(time_ms, rule.expires_after_ms);
}

// (time, id) order: the order of every listing, and the tie-break that makes
// "which revoke is recorded" independent of arrival order.
inline bool ordered_before(std::int64_t time_a, std::string_view id_a, std::int64_t time_b,
                           std::string_view id_b) noexcept {
  return time_a < time_b || (time_a == time_b && id_a < id_b);
}

template <typename T>
T load(const char* at) noexcept {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

template <typename T>
void store(char* at, T value) noexcept {
  std::memcpy(at, &value, sizeof value);
}

// ---- header -----------------------------------------------------------------

// Bit 0 of the first byte tells the two forms apart. Blobs under 32 KiB (all
// but the busiest subjects) use the short one; a blob about to outgrow it is
// widened once, for good.
inline constexpr std::uint32_t kShortHeaderBytes = 5;
inline constexpr std::uint32_t kLongHeaderBytes = 9;
inline constexpr std::uint32_t kWidenBytes = kLongHeaderBytes - kShortHeaderBytes;
inline constexpr std::uint32_t kShortFormLimit = 1U << 15;
// A blob never grows past this (a subject with tens of millions of records);
// the table refuses an event that would take it further.
inline constexpr std::uint32_t kMaxBlobBytes = 1U << 30;

// Bit 7 of a record's id-length byte is a flag; ids are at most 64 bytes.
inline constexpr std::uint8_t kFlagBit = 0x80;
inline constexpr std::uint8_t kLengthMask = 0x7f;
static_assert(kMaxIdBytes <= kLengthMask);
static_assert(kMaxSubjectBytes <= 0xff && kMaxSourceBytes <= 0xff && kMaxReasonBytes <= 0xff);

inline bool long_form(const char* blob) noexcept {
  return (static_cast<std::uint8_t>(blob[0]) & 1) != 0;
}
inline std::uint32_t header_bytes(const char* blob) noexcept {
  return long_form(blob) ? kLongHeaderBytes : kShortHeaderBytes;
}
inline std::uint32_t blob_size(const char* blob) noexcept {
  return long_form(blob) ? load<std::uint32_t>(blob) >> 1 : load<std::uint16_t>(blob) >> 1;
}
inline std::uint32_t revokes_at(const char* blob) noexcept {
  return long_form(blob) ? load<std::uint32_t>(blob + 4) : load<std::uint16_t>(blob + 2);
}
inline std::string_view subject_in(const char* blob) noexcept {
  const std::uint32_t header = header_bytes(blob);
  return {blob + header, static_cast<std::uint8_t>(blob[header - 1])};
}
inline std::uint32_t contributions_at(const char* blob) noexcept {
  const std::uint32_t header = header_bytes(blob);
  return header + static_cast<std::uint8_t>(blob[header - 1]);
}
// Keeps the blob's form.
inline void set_sizes(char* blob, std::uint32_t size, std::uint32_t revokes_begin) noexcept {
  if (long_form(blob)) {
    store<std::uint32_t>(blob, (size << 1) | 1);
    store<std::uint32_t>(blob + 4, revokes_begin);
  } else {
    store(blob, static_cast<std::uint16_t>(size << 1));
    store(blob + 2, static_cast<std::uint16_t>(revokes_begin));
  }
}

// Bytes before a new short-form blob's first record.
inline std::uint32_t records_at(std::string_view subject) noexcept {
  return static_cast<std::uint32_t>(kShortHeaderBytes + subject.size());
}
// Starts a short-form blob of `size` bytes holding `subject`; the records
// are written after records_at(subject).
inline void write_header(char* blob, std::string_view subject, std::uint32_t size,
                         std::uint32_t revokes_begin) noexcept {
  blob[0] = 0;  // short form
  set_sizes(blob, size, revokes_begin);
  blob[kShortHeaderBytes - 1] = static_cast<char>(subject.size());
  std::memcpy(blob + kShortHeaderBytes, subject.data(), subject.size());
}
// Rewrites a short-form blob of `size` bytes in the long form, in place; the
// blob must have room for kWidenBytes more. Every offset moves by kWidenBytes.
inline void widen_header(char* blob, std::uint32_t size) noexcept {
  const std::uint32_t revokes_begin = revokes_at(blob);
  // The subject's length byte and everything after it move up.
  std::memmove(blob + kLongHeaderBytes - 1, blob + kShortHeaderBytes - 1,
               size - (kShortHeaderBytes - 1));
  blob[0] = 1;  // long form
  set_sizes(blob, size + kWidenBytes, revokes_begin + kWidenBytes);
}

// ---- fields shared by both records ------------------------------------------

// An id is a length byte whose bit 7 is the record's flag, then the bytes; a
// short string (target, reason, spilled source) is a length byte, then the bytes.
struct IdField {
  std::string_view id;
  bool flag;
};

inline IdField read_id(const char* at) noexcept {
  const auto length_byte = static_cast<std::uint8_t>(at[0]);
  return {{at + 1, static_cast<std::size_t>(length_byte & kLengthMask)},
          (length_byte & kFlagBit) != 0};
}

// Returns the bytes written.
inline std::size_t write_id(char* at, std::string_view id, bool flag) noexcept {
  at[0] = static_cast<char>(static_cast<std::uint8_t>(id.size()) | (flag ? kFlagBit : 0));
  std::memcpy(at + 1, id.data(), id.size());
  return 1 + id.size();
}

inline void set_flag(char* id_at, bool on) noexcept {
  const auto byte = static_cast<std::uint8_t>(*id_at);
  *id_at = static_cast<char>(on ? (byte | kFlagBit) : (byte & kLengthMask));
}

inline std::string_view read_short_string(const char* at) noexcept {
  return {at + 1, static_cast<std::uint8_t>(at[0])};
}

inline std::size_t write_short_string(char* at, std::string_view text) noexcept {
  at[0] = static_cast<char>(text.size());
  if (!text.empty()) std::memcpy(at + 1, text.data(), text.size());  // data() may be null
  return 1 + text.size();
}

// ---- contribution record ----------------------------------------------------

//   +0 i64 time_ms | +8 u16 rule_ref | +10 u16 source_ref
//   | +12 u8 id_len (bit 7: revoked) | +13 id
//   | [Rule*, if rule_ref is kSpilled] | [u8 len, source, if source_ref is kSpilled]
inline constexpr std::uint32_t kContributionIdAt = 12;
inline constexpr std::uint32_t kContributionFixedBytes = 13;

struct Contribution {
  std::int64_t time_ms;
  std::uint16_t rule_ref;
  std::uint16_t source_ref;
  bool revoked;
  std::string_view id;
  std::uint32_t bytes;  // encoded size

  const char* spilled() const noexcept { return id.data() + id.size(); }
  const Rule& rule(const InternTable& interns) const noexcept {
    return rule_ref != InternTable::kSpilled ? interns.rule_at(rule_ref)
                                             : *load<const Rule*>(spilled());
  }
  std::string_view source(const InternTable& interns) const noexcept {
    if (source_ref != InternTable::kSpilled) return interns.source_at(source_ref);
    return read_short_string(spilled() + (rule_ref == InternTable::kSpilled ? sizeof(Rule*) : 0));
  }
};

inline Contribution read_contribution(const char* at) noexcept {
  Contribution c;
  c.time_ms = load<std::int64_t>(at);
  c.rule_ref = load<std::uint16_t>(at + 8);
  c.source_ref = load<std::uint16_t>(at + 10);
  const IdField id = read_id(at + kContributionIdAt);
  c.id = id.id;
  c.revoked = id.flag;
  std::uint32_t bytes = kContributionFixedBytes + static_cast<std::uint32_t>(c.id.size());
  if (c.rule_ref == InternTable::kSpilled) bytes += sizeof(Rule*);
  if (c.source_ref == InternTable::kSpilled) bytes += 1 + static_cast<std::uint8_t>(at[bytes]);
  c.bytes = bytes;
  return c;
}

inline std::uint32_t contribution_bytes(std::string_view id, std::uint16_t rule_ref,
                                        std::string_view source,
                                        std::uint16_t source_ref) noexcept {
  return static_cast<std::uint32_t>(kContributionFixedBytes + id.size() +
                                    (rule_ref == InternTable::kSpilled ? sizeof(Rule*) : 0) +
                                    (source_ref == InternTable::kSpilled ? 1 + source.size() : 0));
}

inline void write_contribution(char* at, std::int64_t time_ms, const Rule* rule,
                               std::uint16_t rule_ref, std::string_view source,
                               std::uint16_t source_ref, bool revoked,
                               std::string_view id) noexcept {
  store(at, time_ms);
  store(at + 8, rule_ref);
  store(at + 10, source_ref);
  std::size_t next = kContributionIdAt + write_id(at + kContributionIdAt, id, revoked);
  if (rule_ref == InternTable::kSpilled) {
    store(at + next, rule);
    next += sizeof(Rule*);
  }
  if (source_ref == InternTable::kSpilled) write_short_string(at + next, source);
}

// ---- revoke record ----------------------------------------------------------

//   +0 i64 time_ms | +8 u16 source_ref | +10 u8 id_len (bit 7: the target is a
//   contribution here) | +11 id | u8 target_len | target | u8 reason_len
//   | reason | u8 actor_len | actor | [u8 len, source, if source_ref is kSpilled]
inline constexpr std::uint32_t kRevokeIdAt = 10;
// With the target's, reason's and actor's lengths.
inline constexpr std::uint32_t kRevokeFixedBytes = 14;

struct Revoke {
  std::int64_t time_ms;
  std::uint16_t source_ref;
  bool target_present;
  std::string_view id;
  std::string_view target;
  std::string_view reason;
  std::string_view actor;  // the authenticated client that sent it; empty without --auth
  std::uint32_t bytes;

  std::string_view source(const InternTable& interns) const noexcept {
    if (source_ref != InternTable::kSpilled) return interns.source_at(source_ref);
    return read_short_string(actor.data() + actor.size());
  }
};

inline Revoke read_revoke(const char* at) noexcept {
  Revoke r;
  r.time_ms = load<std::int64_t>(at);
  r.source_ref = load<std::uint16_t>(at + 8);
  const IdField id = read_id(at + kRevokeIdAt);
  r.id = id.id;
  r.target_present = id.flag;
  r.target = read_short_string(r.id.data() + r.id.size());
  r.reason = read_short_string(r.target.data() + r.target.size());
  r.actor = read_short_string(r.reason.data() + r.reason.size());
  std::uint32_t bytes =
      kRevokeFixedBytes +
      static_cast<std::uint32_t>(r.id.size() + r.target.size() + r.reason.size() + r.actor.size());
  if (r.source_ref == InternTable::kSpilled) bytes += 1 + static_cast<std::uint8_t>(at[bytes]);
  r.bytes = bytes;
  return r;
}

inline std::uint32_t revoke_bytes(std::string_view id, std::string_view target,
                                  std::string_view reason, std::string_view actor,
                                  std::string_view source, std::uint16_t source_ref) noexcept {
  return static_cast<std::uint32_t>(kRevokeFixedBytes + id.size() + target.size() + reason.size() +
                                    actor.size() +
                                    (source_ref == InternTable::kSpilled ? 1 + source.size() : 0));
}

inline void write_revoke(char* at, std::int64_t time_ms, std::string_view source,
                         std::uint16_t source_ref, bool target_present, std::string_view id,
                         std::string_view target, std::string_view reason,
                         std::string_view actor) noexcept {
  store(at, time_ms);
  store(at + 8, source_ref);
  std::size_t next = kRevokeIdAt + write_id(at + kRevokeIdAt, id, target_present);
  next += write_short_string(at + next, target);
  next += write_short_string(at + next, reason);
  next += write_short_string(at + next, actor);
  if (source_ref == InternTable::kSpilled) write_short_string(at + next, source);
}

// Every subject's first record fits a short-form blob, whatever its fields.
static_assert(kShortHeaderBytes + kMaxSubjectBytes + kRevokeFixedBytes + 2 * kMaxIdBytes +
                          kMaxReasonBytes + kMaxActorBytes + 1 + kMaxSourceBytes <
                      kShortFormLimit &&
                  kContributionFixedBytes + kMaxIdBytes + sizeof(Rule*) + 1 + kMaxSourceBytes <=
                      kRevokeFixedBytes + 2 * kMaxIdBytes + 1 + kMaxSourceBytes,
              "a subject's first record fits the short header");

// ---- whole-blob operations --------------------------------------------------

// The recorded revocation of a revoked contribution: the first (smallest
// (time, id)) revoke record naming it; nullptr when there is none.
const char* first_revoke_of(const char* blob, std::string_view id) noexcept;

struct RetainedSizes {
  std::uint32_t size;           // the blob's size after the drop; 0: nothing is left
  std::uint32_t revokes_begin;  // where its revokes start now
};
// Drops what is past retention at `now_ms` from a blob, compacting it in
// place: a contribution once its expiry is `retain_ms` in the past (a
// never-expiring one still counts, so it stays); a revoke once its target is
// not here and its own time is `retain_ms` in the past (while its target
// stays, it is the target's revocation and its id is a seen id). Updates the
// header and the flags; returns the new sizes, or size 0 when nothing is
// left (the header is then untouched).
RetainedSizes drop_past_retention(char* blob, std::int64_t now_ms, std::int64_t retain_ms,
                                  const InternTable& interns);

}  // namespace tally::scorer::blob
