// SubjectTable: how a shard's subjects are stored, and why this way.
//
// A city has millions of subjects and most of them are idle, holding one or two
// contributions. What they cost at rest decides how many fit in a worker, so a
// subject is one small contiguous byte blob, and the table maps the subject's
// bytes to a 4-byte handle of that blob:
//
//   absl::flat_hash_set<Handle>          5 bytes a slot (4 handle + 1 control),
//     hashed and compared by the         found by the subject's bytes (the hash
//     subject bytes inside the blob      functor resolves handle -> blob)
//         |
//         v
//   BlobArena: size classes of 8..248 bytes in 8-byte steps, carved from chunks
//   of 1024 blocks (no per-blob malloc header, at most 7 bytes of rounding);
//   larger blobs (busy subjects) are malloc'd. Handle = class (5 bits) | index
//   (27 bits).
//
// One subject's blob (integers in host order, unaligned, read with memcpy):
//
//   header     u16 size<<1 | u16 revokes_at | u8 subject_len      (5 bytes)
//              or, once a blob nears 32 KiB, for good:
//              u32 size<<1|1 | u32 revokes_at | u8 subject_len    (9 bytes)
//   subject    subject_len bytes
//   contributions, sorted by (time, id):
//              i64 time | u16 rule_ref | u16 source_ref | u8 id_len | id
//                                                     (13 bytes + the id)
//   revokes, sorted by (time, id), from offset revokes_at to size:
//              i64 time | u16 source_ref | u8 id_len | id | u8 target_len
//              | target                        (12 bytes + id + target)
//
// Rules and sources are 2-byte refs into process-wide dictionaries (see
// "interned rules and sources" below), with an inline fallback. Points and
// expiry are not stored: they are the Rule's, and every Rule ever published
// outlives the table (rules.h). Bit 7 of a record's id-length byte caches a
// relation between records: on a contribution "some revoke names me"
// (revoked), on a revoke "my target is a contribution here" (not pending).
// Both are maintained on every insert and purge, so score_at and the pending
// listing are linear scans without string searches. A contribution's recorded
// revocation is the smallest (time, id) revoke naming it, and every revoke is
// kept while its target is, so explain, like the score, is a function of the
// set of events, never of their order.
//
// Cost of an operation on a subject holding n records: apply is one pass over
// the blob (dedup, insertion point, revoke matching) plus a memmove of the tail;
// score_at is one pass that stops at the first record later than T. Subjects
// are small, so this beats any per-subject index; a subject with thousands of
// records pays O(n) per event, the price of 0 bytes of index for the millions
// that hold one or two.
//
// Growth: a blob's capacity is a pure function of its size (capacity_for), so
// it is not stored; a blob moves to a bigger class only when its size crosses a
// class boundary, and the handle in the hash set is updated in place (the set's
// hash and equality depend on the subject bytes only, which the move keeps).
// That move is the only allocation an event can cause (besides the first sight
// of a rule or source by this table), and an event that crosses no boundary
// allocates nothing.
//
// Memory is bounded by purge(now, retain): a contribution is dropped once its
// expiry is `retain` in the past (never-expiring ones stay: they still count),
// a revoke once its target is not here and its own time is `retain` in the
// past, a subject once it holds nothing. A freed block goes to its class's free
// list and is reused by the next blob of that class; and a class left sparse
// (a quarter or more of its blocks free, e.g. after a wave of subjects grew
// into the next class) is compacted by the same purge, its top chunks freed.
// So between purges the footprint is bounded by the peak of live content per
// class, and after one by about 4/3 of the live content, never by the number
// of events ever applied. The dictionaries are capped (2 x 65535 entries,
// process-wide).
#include "scorer/subject_table.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace tally::scorer {

// SubjectState is never defined: a `const SubjectState*` is the address of a
// subject's blob (layout above), and is only ever converted back to bytes.

namespace {

using stream::kNever;

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kNever : kMinTime;
  return sum;
}

// time + expires_after, or kNever (also when the sum would overflow: a date
// beyond the year 292 million does not expire in any meaningful sense).
std::int64_t expires_of(std::int64_t time_ms, const Rule& rule) noexcept {
  if (rule.expires_after_ms == kNever) return kNever;
  return saturating_add(time_ms, rule.expires_after_ms);
}

// (time, id) order: the order of every listing, and the tie-break that makes
// "which revoke is recorded" independent of arrival order.
bool ordered_before(std::int64_t time_a, std::string_view id_a, std::int64_t time_b,
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

// ---- interned rules and sources ---------------------------------------------

// A contribution names its rule and source by a 2-byte ref into a process-wide
// dictionary instead of an 8-byte pointer and an inline string: there are few
// rules and few sources (cameras, agencies), and these bytes are most of what
// an idle subject costs. The dictionaries are process-wide, not per table,
// because score_at and the explain visitors are given only a SubjectState.
//
// Each dictionary holds at most kDictionaryEntries entries and never forgets
// one (a rule outlives every event anyway; sources are a small set): memory is
// bounded by the cap, not by traffic. Past the cap, or for a ref that a table
// cannot get, the value is stored inline after the record (kSpilled), so a
// flood of distinct sources costs bytes per record, never correctness.
//
// Thread-safety: interning takes a mutex (once per table and value: each table
// caches its refs); reading an entry is a lock-free acquire load of a pointer
// to an immutable value, published with release before its ref was handed out.
constexpr std::uint16_t kSpilled = 0xffff;
constexpr std::size_t kDictionaryEntries = kSpilled;  // refs 0 .. 0xfffe

constinit std::array<std::atomic<const Rule*>, kDictionaryEntries> g_rules{};
constinit std::array<std::atomic<const std::string*>, kDictionaryEntries> g_sources{};
constinit std::atomic<bool> g_rules_full{false};
constinit std::atomic<bool> g_sources_full{false};

struct DictionaryIndex {
  std::mutex mutex;
  absl::flat_hash_map<const Rule*, std::uint16_t> rules;
  absl::flat_hash_map<std::string, std::uint16_t> sources;
  std::deque<std::string> source_text;  // a deque: entries' addresses are stable
};

DictionaryIndex& dictionary_index() {
  // Never destroyed: refs stay valid for the life of the process.
  static auto* const index = new DictionaryIndex;
  return *index;
}

std::uint16_t intern_rule(const Rule* rule) {
  if (g_rules_full.load(std::memory_order_relaxed)) return kSpilled;
  DictionaryIndex& index = dictionary_index();
  const std::lock_guard lock(index.mutex);
  if (const auto it = index.rules.find(rule); it != index.rules.end()) return it->second;
  if (index.rules.size() == kDictionaryEntries) {
    g_rules_full.store(true, std::memory_order_relaxed);
    return kSpilled;
  }
  const auto ref = static_cast<std::uint16_t>(index.rules.size());
  g_rules[ref].store(rule, std::memory_order_release);
  index.rules.emplace(rule, ref);
  return ref;
}

std::uint16_t intern_source(std::string_view source) {
  if (g_sources_full.load(std::memory_order_relaxed)) return kSpilled;
  DictionaryIndex& index = dictionary_index();
  const std::lock_guard lock(index.mutex);
  const absl::string_view key(source.data(), source.size());
  if (const auto it = index.sources.find(key); it != index.sources.end()) return it->second;
  if (index.sources.size() == kDictionaryEntries) {
    g_sources_full.store(true, std::memory_order_relaxed);
    return kSpilled;
  }
  const auto ref = static_cast<std::uint16_t>(index.sources.size());
  g_sources[ref].store(&index.source_text.emplace_back(source), std::memory_order_release);
  index.sources.emplace(std::string(source), ref);
  return ref;
}

const Rule* rule_at(std::uint16_t ref) noexcept {
  return g_rules[ref].load(std::memory_order_acquire);
}
std::string_view source_at(std::uint16_t ref) noexcept {
  return *g_sources[ref].load(std::memory_order_acquire);
}

// ---- blob layout ------------------------------------------------------------

// Header: bit 0 of the first byte tells the two forms apart. Blobs under
// 32 KiB (all but the busiest subjects) use the short one; a blob about to
// outgrow it is widened once, for good.
constexpr std::uint32_t kShortHeaderBytes = 5;  // u16 size<<1 | u16 revokes_at | u8 subject_len
constexpr std::uint32_t kLongHeaderBytes = 9;   // u32 size<<1|1 | u32 revokes_at | u8 subject_len
constexpr std::uint32_t kShortFormLimit = 1U << 15;
// A blob never grows past this (a subject with tens of millions of records);
// an event that would take it further is refused with std::length_error.
constexpr std::uint32_t kMaxBlobBytes = 1U << 30;

// Bit 7 of a record's id-length byte is a flag; ids are at most 64 bytes.
constexpr std::uint8_t kFlagBit = 0x80;
constexpr std::uint8_t kLengthMask = 0x7f;
static_assert(stream::kMaxIdBytes <= kLengthMask);
static_assert(stream::kMaxSubjectBytes <= 0xff && stream::kMaxSourceBytes <= 0xff);

bool long_form(const char* blob) noexcept { return (static_cast<std::uint8_t>(blob[0]) & 1) != 0; }
std::uint32_t header_bytes(const char* blob) noexcept {
  return long_form(blob) ? kLongHeaderBytes : kShortHeaderBytes;
}
std::uint32_t blob_size(const char* blob) noexcept {
  return long_form(blob) ? load<std::uint32_t>(blob) >> 1 : load<std::uint16_t>(blob) >> 1;
}
std::uint32_t revokes_at(const char* blob) noexcept {
  return long_form(blob) ? load<std::uint32_t>(blob + 4) : load<std::uint16_t>(blob + 2);
}
std::string_view subject_in(const char* blob) noexcept {
  const std::uint32_t header = header_bytes(blob);
  return {blob + header, static_cast<std::uint8_t>(blob[header - 1])};
}
std::uint32_t contributions_at(const char* blob) noexcept {
  const std::uint32_t header = header_bytes(blob);
  return header + static_cast<std::uint8_t>(blob[header - 1]);
}
// Keeps the blob's form.
void set_sizes(char* blob, std::uint32_t size, std::uint32_t revokes_begin) noexcept {
  if (long_form(blob)) {
    store<std::uint32_t>(blob, (size << 1) | 1);
    store<std::uint32_t>(blob + 4, revokes_begin);
  } else {
    store(blob, static_cast<std::uint16_t>(size << 1));
    store(blob + 2, static_cast<std::uint16_t>(revokes_begin));
  }
}

// Fields shared by both records. An id is a length byte whose bit 7 is the
// record's flag, then the bytes; a short string (target, spilled source) is a
// length byte, then the bytes.
struct IdField {
  std::string_view id;
  bool flag;
};

IdField read_id(const char* at) noexcept {
  const auto length_byte = static_cast<std::uint8_t>(at[0]);
  return {{at + 1, static_cast<std::size_t>(length_byte & kLengthMask)},
          (length_byte & kFlagBit) != 0};
}

// Returns the bytes written.
std::size_t write_id(char* at, std::string_view id, bool flag) noexcept {
  at[0] = static_cast<char>(static_cast<std::uint8_t>(id.size()) | (flag ? kFlagBit : 0));
  std::memcpy(at + 1, id.data(), id.size());
  return 1 + id.size();
}

void set_flag(char* id_at, bool on) noexcept {
  const auto byte = static_cast<std::uint8_t>(*id_at);
  *id_at = static_cast<char>(on ? (byte | kFlagBit) : (byte & kLengthMask));
}

std::string_view read_short_string(const char* at) noexcept {
  return {at + 1, static_cast<std::uint8_t>(at[0])};
}

std::size_t write_short_string(char* at, std::string_view text) noexcept {
  at[0] = static_cast<char>(text.size());
  std::memcpy(at + 1, text.data(), text.size());
  return 1 + text.size();
}

// Contribution record:
//   +0 i64 time_ms | +8 u16 rule_ref | +10 u16 source_ref
//   | +12 u8 id_len (bit 7: revoked) | +13 id
//   | [Rule*, if rule_ref is kSpilled] | [u8 len, source, if source_ref is kSpilled]
constexpr std::uint32_t kContributionIdAt = 12;
constexpr std::uint32_t kContributionFixedBytes = 13;

struct Contribution {
  const char* at;
  std::int64_t time_ms;
  std::uint16_t rule_ref;
  std::uint16_t source_ref;
  bool revoked;
  std::string_view id;
  std::uint32_t bytes;  // encoded size

  const char* spilled() const noexcept { return id.data() + id.size(); }
  const Rule& rule() const noexcept {
    return rule_ref != kSpilled ? *rule_at(rule_ref) : *load<const Rule*>(spilled());
  }
  std::string_view source() const noexcept {
    if (source_ref != kSpilled) return source_at(source_ref);
    return read_short_string(spilled() + (rule_ref == kSpilled ? sizeof(Rule*) : 0));
  }
};

Contribution read_contribution(const char* at) noexcept {
  Contribution c;
  c.at = at;
  c.time_ms = load<std::int64_t>(at);
  c.rule_ref = load<std::uint16_t>(at + 8);
  c.source_ref = load<std::uint16_t>(at + 10);
  const IdField id = read_id(at + kContributionIdAt);
  c.id = id.id;
  c.revoked = id.flag;
  std::uint32_t bytes = kContributionFixedBytes + static_cast<std::uint32_t>(c.id.size());
  if (c.rule_ref == kSpilled) bytes += sizeof(Rule*);
  if (c.source_ref == kSpilled) bytes += 1 + static_cast<std::uint8_t>(at[bytes]);
  c.bytes = bytes;
  return c;
}

std::uint32_t contribution_bytes(std::string_view id, std::uint16_t rule_ref,
                                 std::string_view source, std::uint16_t source_ref) noexcept {
  return static_cast<std::uint32_t>(kContributionFixedBytes + id.size() +
                                    (rule_ref == kSpilled ? sizeof(Rule*) : 0) +
                                    (source_ref == kSpilled ? 1 + source.size() : 0));
}

void write_contribution(char* at, std::int64_t time_ms, const Rule* rule, std::uint16_t rule_ref,
                        std::string_view source, std::uint16_t source_ref, bool revoked,
                        std::string_view id) noexcept {
  store(at, time_ms);
  store(at + 8, rule_ref);
  store(at + 10, source_ref);
  std::size_t next = kContributionIdAt + write_id(at + kContributionIdAt, id, revoked);
  if (rule_ref == kSpilled) {
    store(at + next, rule);
    next += sizeof(Rule*);
  }
  if (source_ref == kSpilled) write_short_string(at + next, source);
}

// Revoke record:
//   +0 i64 time_ms | +8 u16 source_ref | +10 u8 id_len (bit 7: the target is a
//   contribution here) | +11 id | u8 target_len | target | u8 reason_len
//   | reason | [u8 len, source, if source_ref is kSpilled]
constexpr std::uint32_t kRevokeIdAt = 10;
constexpr std::uint32_t kRevokeFixedBytes = 13;  // with the target's and reason's length bytes

struct Revoke {
  const char* at;
  std::int64_t time_ms;
  std::uint16_t source_ref;
  bool target_present;
  std::string_view id;
  std::string_view target;
  std::string_view reason;
  std::uint32_t bytes;

  std::string_view source() const noexcept {
    if (source_ref != kSpilled) return source_at(source_ref);
    return read_short_string(reason.data() + reason.size());
  }
};

Revoke read_revoke(const char* at) noexcept {
  Revoke r;
  r.at = at;
  r.time_ms = load<std::int64_t>(at);
  r.source_ref = load<std::uint16_t>(at + 8);
  const IdField id = read_id(at + kRevokeIdAt);
  r.id = id.id;
  r.target_present = id.flag;
  r.target = read_short_string(r.id.data() + r.id.size());
  r.reason = read_short_string(r.target.data() + r.target.size());
  std::uint32_t bytes = kRevokeFixedBytes +
                        static_cast<std::uint32_t>(r.id.size() + r.target.size() + r.reason.size());
  if (r.source_ref == kSpilled) bytes += 1 + static_cast<std::uint8_t>(at[bytes]);
  r.bytes = bytes;
  return r;
}

std::uint32_t revoke_bytes(std::string_view id, std::string_view target, std::string_view reason,
                           std::string_view source, std::uint16_t source_ref) noexcept {
  return static_cast<std::uint32_t>(kRevokeFixedBytes + id.size() + target.size() + reason.size() +
                                    (source_ref == kSpilled ? 1 + source.size() : 0));
}

void write_revoke(char* at, std::int64_t time_ms, std::string_view source, std::uint16_t source_ref,
                  bool target_present, std::string_view id, std::string_view target,
                  std::string_view reason) noexcept {
  store(at, time_ms);
  store(at + 8, source_ref);
  std::size_t next = kRevokeIdAt + write_id(at + kRevokeIdAt, id, target_present);
  next += write_short_string(at + next, target);
  next += write_short_string(at + next, reason);
  if (source_ref == kSpilled) write_short_string(at + next, source);
}

bool has_contribution(const char* blob, std::uint32_t begin, std::uint32_t end,
                      std::string_view id) noexcept {
  for (std::uint32_t at = begin; at < end;) {
    const Contribution c = read_contribution(blob + at);
    if (c.id == id) return true;
    at += c.bytes;
  }
  return false;
}

// The recorded revocation of a revoked contribution: the first (smallest
// (time, id)) revoke record naming it.
const char* first_revoke_of(const char* blob, std::string_view id) noexcept {
  const std::uint32_t end = blob_size(blob);
  for (std::uint32_t at = revokes_at(blob); at < end;) {
    const Revoke r = read_revoke(blob + at);
    if (r.target_present && r.target == id) return blob + at;
    at += r.bytes;
  }
  return nullptr;
}

// ---- blob storage -----------------------------------------------------------

using Handle = std::uint32_t;

// Size-class storage for blobs. Not thread-safe (it belongs to one table).
class BlobArena {
 public:
  BlobArena() = default;
  BlobArena(const BlobArena&) = delete;
  BlobArena& operator=(const BlobArena&) = delete;
  ~BlobArena() {
    for (char* blob : large_) std::free(blob);
  }

  // The capacity a blob of `size` bytes is kept in. Up to kMaxSmallBytes, the
  // size rounded up to 8; beyond, rounded up to an eighth of its power of two,
  // so that a growing busy subject is copied O(1) times per byte on average.
  static std::uint32_t capacity_for(std::uint32_t size) noexcept {
    if (size <= kMaxSmallBytes) return std::max<std::uint32_t>(kGranule, round_up(size, kGranule));
    const std::uint32_t step = std::max<std::uint32_t>(16, std::bit_floor(size) / 8);
    return round_up(size, step);
  }

  Handle allocate(std::uint32_t capacity) {
    if (capacity <= kMaxSmallBytes) return allocate_small(capacity / kGranule - 1);
    char* blob = static_cast<char*>(std::malloc(capacity));
    if (blob == nullptr) throw std::bad_alloc();
    std::uint32_t index = 0;
    if (!large_free_.empty()) {
      index = large_free_.back();
      large_free_.pop_back();
      large_[index] = blob;
    } else {
      index = static_cast<std::uint32_t>(large_.size());
      if (index > kIndexMask) {
        std::free(blob);
        throw std::length_error("subject table: too many large subjects in one shard");
      }
      large_.push_back(blob);
      large_free_.reserve(large_.size());  // so that release() never allocates
    }
    large_bytes_ += malloc_footprint(capacity);
    return (kLargeClass << kIndexBits) | index;
  }

  void release(Handle handle, std::uint32_t capacity) noexcept {
    const std::uint32_t cls = handle >> kIndexBits;
    const std::uint32_t index = handle & kIndexMask;
    if (cls == kLargeClass) {
      std::free(large_[index]);
      large_[index] = nullptr;
      large_free_.push_back(index);  // capacity reserved in allocate()
      large_bytes_ -= malloc_footprint(capacity);
      return;
    }
    SizeClass& size_class = small_[cls];
    store(block(cls, index), size_class.free_head);
    size_class.free_head = index;
    ++size_class.free_count;
  }

  // Compaction, driven by the table (which owns the handles) during purge: a
  // size class whose free list holds at least a chunk's worth of blocks and a
  // quarter of all it carved (a wave of subjects moved to another class, or
  // expired) is shrunk to its live count. Protocol: begin_compaction(); then
  // relocate() every live handle, replacing it with the result; then
  // finish_compaction(), which frees the chunks above the live count. Blobs
  // at or above the live count move into the free blocks below it; there are
  // exactly as many of each.
  bool begin_compaction() {
    bool any = false;
    for (std::uint32_t cls = 0; cls < kSmallClasses; ++cls) {
      SizeClass& size_class = small_[cls];
      if (size_class.free_count < kChunkBlocks || size_class.free_count * 4 < size_class.carved) {
        continue;
      }
      size_class.compact_to = size_class.carved - size_class.free_count;
      size_class.holes.clear();
      for (std::uint32_t index = size_class.free_head; index != kNoBlock;
           index = load<std::uint32_t>(block(cls, index))) {
        if (index < size_class.compact_to) size_class.holes.push_back(index);
      }
      any = true;
    }
    return any;
  }

  Handle relocate(Handle handle) noexcept {
    const std::uint32_t cls = handle >> kIndexBits;
    if (cls == kLargeClass) return handle;
    SizeClass& size_class = small_[cls];
    const std::uint32_t index = handle & kIndexMask;
    if (size_class.compact_to == kNoBlock || index < size_class.compact_to) return handle;
    const std::uint32_t hole = size_class.holes.back();
    size_class.holes.pop_back();
    std::memcpy(block(cls, hole), block(cls, index), block_bytes(cls));
    return (cls << kIndexBits) | hole;
  }

  void finish_compaction() {
    for (std::uint32_t cls = 0; cls < kSmallClasses; ++cls) {
      SizeClass& size_class = small_[cls];
      if (size_class.compact_to == kNoBlock) continue;
      size_class.carved = size_class.compact_to;
      size_class.free_head = kNoBlock;
      size_class.free_count = 0;
      size_class.chunks.resize((size_class.carved + kChunkBlocks - 1) / kChunkBlocks);
      size_class.chunks.shrink_to_fit();
      size_class.holes = {};
      size_class.compact_to = kNoBlock;
    }
  }

  // Moves a blob to `new_capacity`, keeping its first `keep` bytes.
  Handle reallocate(Handle handle, std::uint32_t old_capacity, std::uint32_t new_capacity,
                    std::uint32_t keep) {
    if ((handle >> kIndexBits) == kLargeClass && new_capacity > kMaxSmallBytes) {
      const std::uint32_t index = handle & kIndexMask;
      char* moved = static_cast<char*>(std::realloc(large_[index], new_capacity));
      if (moved == nullptr) throw std::bad_alloc();
      large_[index] = moved;
      large_bytes_ += malloc_footprint(new_capacity);
      large_bytes_ -= malloc_footprint(old_capacity);
      return handle;
    }
    const Handle moved = allocate(new_capacity);
    std::memcpy(resolve(moved), resolve(handle), keep);
    release(handle, old_capacity);
    return moved;
  }

  char* resolve(Handle handle) const noexcept {
    const std::uint32_t cls = handle >> kIndexBits;
    const std::uint32_t index = handle & kIndexMask;
    if (cls == kLargeClass) return large_[index];
    return block(cls, index);
  }

  // Blocks ever carved (free-listed ones included: they are held) plus the
  // malloc'd blobs with glibc's per-chunk overhead, plus bookkeeping.
  std::size_t memory_bytes() const noexcept {
    std::size_t bytes = large_bytes_ + large_.capacity() * sizeof(char*) +
                        large_free_.capacity() * sizeof(std::uint32_t);
    for (std::uint32_t cls = 0; cls < kSmallClasses; ++cls) {
      bytes += std::size_t{small_[cls].carved} * block_bytes(cls) +
               small_[cls].chunks.capacity() * sizeof(std::unique_ptr<char[]>);
    }
    return bytes;
  }

 private:
  static constexpr std::uint32_t kGranule = 8;
  static constexpr std::uint32_t kIndexBits = 27;
  static constexpr std::uint32_t kIndexMask = (1U << kIndexBits) - 1;
  static constexpr std::uint32_t kLargeClass = 31;
  static constexpr std::uint32_t kSmallClasses = 31;  // 8, 16, ..., 248 bytes
  static constexpr std::uint32_t kMaxSmallBytes = kSmallClasses * kGranule;
  static constexpr std::uint32_t kChunkBlocksLog2 = 10;
  static constexpr std::uint32_t kChunkBlocks = 1U << kChunkBlocksLog2;
  static constexpr std::uint32_t kNoBlock = std::numeric_limits<std::uint32_t>::max();

  struct SizeClass {
    std::vector<std::unique_ptr<char[]>> chunks;  // kChunkBlocks blocks each
    std::uint32_t carved = 0;                     // blocks handed out at least once
    std::uint32_t free_head = kNoBlock;           // intrusive list through freed blocks
    std::uint32_t free_count = 0;
    // During a compaction: the live count, and the free blocks below it.
    std::uint32_t compact_to = kNoBlock;
    std::vector<std::uint32_t> holes;
  };

  static constexpr std::uint32_t round_up(std::uint32_t value, std::uint32_t step) noexcept {
    return (value + step - 1) / step * step;
  }
  static constexpr std::uint32_t block_bytes(std::uint32_t cls) noexcept {
    return (cls + 1) * kGranule;
  }
  // What glibc's malloc really takes for a request: an 8-byte header, 16-byte
  // granularity.
  static constexpr std::size_t malloc_footprint(std::uint32_t capacity) noexcept {
    return (std::size_t{capacity} + 8 + 15) / 16 * 16;
  }

  char* block(std::uint32_t cls, std::uint32_t index) const noexcept {
    return small_[cls].chunks[index >> kChunkBlocksLog2].get() +
           std::size_t{index & (kChunkBlocks - 1)} * block_bytes(cls);
  }

  Handle allocate_small(std::uint32_t cls) {
    SizeClass& size_class = small_[cls];
    std::uint32_t index = size_class.free_head;
    if (index != kNoBlock) {
      size_class.free_head = load<std::uint32_t>(block(cls, index));
      --size_class.free_count;
    } else {
      index = size_class.carved;
      if (index > kIndexMask) {
        throw std::length_error("subject table: too many subjects of one size in one shard");
      }
      if ((index & (kChunkBlocks - 1)) == 0) {
        // Not value-initialised: pages are touched only as blocks are used.
        size_class.chunks.push_back(
            std::make_unique_for_overwrite<char[]>(std::size_t{kChunkBlocks} * block_bytes(cls)));
      }
      ++size_class.carved;
    }
    return (cls << kIndexBits) | index;
  }

  std::array<SizeClass, kSmallClasses> small_;
  std::vector<char*> large_;  // nullptr where freed
  std::vector<std::uint32_t> large_free_;
  std::size_t large_bytes_ = 0;
};

// The set hashes and compares handles by the subject bytes in their blobs, and
// looks up by subject bytes directly (transparent).
struct SubjectHash {
  using is_transparent = void;
  const BlobArena* arena;
  std::size_t operator()(std::string_view subject) const noexcept {
    return absl::Hash<absl::string_view>{}(absl::string_view(subject.data(), subject.size()));
  }
  std::size_t operator()(Handle handle) const noexcept {
    return (*this)(subject_in(arena->resolve(handle)));
  }
};

struct SubjectEq {
  using is_transparent = void;
  const BlobArena* arena;
  std::string_view subject(Handle handle) const noexcept {
    return subject_in(arena->resolve(handle));
  }
  bool operator()(Handle a, Handle b) const noexcept { return a == b || subject(a) == subject(b); }
  bool operator()(Handle a, std::string_view b) const noexcept { return subject(a) == b; }
  bool operator()(std::string_view a, Handle b) const noexcept { return a == subject(b); }
};

const SubjectState* state_of(const char* blob) noexcept {
  return reinterpret_cast<const SubjectState*>(blob);
}
const char* blob_of(const SubjectState& state) noexcept {
  return reinterpret_cast<const char*>(&state);
}

}  // namespace

struct SubjectTable::Impl {
  BlobArena arena;
  absl::flat_hash_set<Handle, SubjectHash, SubjectEq> subjects{0, SubjectHash{&arena},
                                                               SubjectEq{&arena}};
  // This table's refs into the process-wide dictionaries, so that the shared
  // mutex is taken once per table and value, not per event.
  absl::flat_hash_map<const Rule*, std::uint16_t> rule_refs;
  absl::flat_hash_map<std::string, std::uint16_t> source_refs;

  std::uint16_t rule_ref(const Rule* rule) {
    if (const auto it = rule_refs.find(rule); it != rule_refs.end()) return it->second;
    const std::uint16_t ref = intern_rule(rule);
    if (ref != kSpilled) rule_refs.emplace(rule, ref);
    return ref;
  }

  std::uint16_t source_ref(std::string_view source) {
    const absl::string_view key(source.data(), source.size());
    if (const auto it = source_refs.find(key); it != source_refs.end()) return it->second;
    const std::uint16_t ref = intern_source(source);
    if (ref != kSpilled) source_refs.emplace(std::string(source), ref);
    return ref;
  }

  // A new subject's blob, holding the event that made it: one allocation,
  // nothing to search.
  Handle create(const stream::Event& event, const Rule& rule) {
    const std::string_view subject = event.subject.view();
    const std::string_view id = event.id.view();
    const std::string_view source = event.source.view();
    const std::uint16_t source_ref_value = source_ref(source);
    const std::uint16_t rule_ref_value = rule.is_revoke ? kSpilled : rule_ref(&rule);
    const std::uint32_t bytes =
        rule.is_revoke
            ? revoke_bytes(id, event.revokes.view(), event.reason.view(), source, source_ref_value)
            : contribution_bytes(id, rule_ref_value, source, source_ref_value);
    const auto records_at = static_cast<std::uint32_t>(kShortHeaderBytes + subject.size());
    const std::uint32_t size = records_at + bytes;
    static_assert(kShortHeaderBytes + stream::kMaxSubjectBytes + kRevokeFixedBytes +
                              2 * stream::kMaxIdBytes + stream::kMaxReasonBytes + 1 +
                              stream::kMaxSourceBytes <
                          kShortFormLimit &&
                      kContributionFixedBytes + stream::kMaxIdBytes + sizeof(Rule*) + 1 +
                              stream::kMaxSourceBytes <=
                          kRevokeFixedBytes + 2 * stream::kMaxIdBytes + 1 + stream::kMaxSourceBytes,
                  "a subject's first record fits the short header");
    const Handle handle = arena.allocate(BlobArena::capacity_for(size));
    char* blob = arena.resolve(handle);
    blob[0] = 0;  // short form
    set_sizes(blob, size, rule.is_revoke ? records_at : size);
    blob[kShortHeaderBytes - 1] = static_cast<char>(subject.size());
    std::memcpy(blob + kShortHeaderBytes, subject.data(), subject.size());
    if (rule.is_revoke) {
      write_revoke(blob + records_at, event.time_ms, source, source_ref_value, false, id,
                   event.revokes.view(), event.reason.view());
    } else {
      write_contribution(blob + records_at, event.time_ms, &rule, rule_ref_value, source,
                         source_ref_value, false, id);
    }
    return handle;
  }

  // Makes room for `extra` more bytes; the blob may move (handle updated).
  char* grow(Handle& handle, std::uint32_t size, std::uint32_t extra) {
    if (extra > kMaxBlobBytes - size) {
      throw std::length_error("subject table: one subject holds too many records");
    }
    const std::uint32_t old_capacity = BlobArena::capacity_for(size);
    const std::uint32_t new_capacity = BlobArena::capacity_for(size + extra);
    if (new_capacity != old_capacity) {
      handle = arena.reallocate(handle, old_capacity, new_capacity, size);
    }
    return arena.resolve(handle);
  }

  // Before `extra` bytes are added: a short-form blob that would outgrow its
  // header is rewritten in the long form. Returns how far every offset in the
  // blob moved (0 or 4).
  std::uint32_t widen_for(Handle& handle, std::uint32_t extra) {
    const char* blob = arena.resolve(handle);
    const std::uint32_t size = blob_size(blob);
    if (long_form(blob) || size + extra < kShortFormLimit) return 0;
    const std::uint32_t revokes_begin = revokes_at(blob);
    constexpr std::uint32_t kShift = kLongHeaderBytes - kShortHeaderBytes;
    char* out = grow(handle, size, kShift);
    // The subject's length byte and everything after it move up.
    std::memmove(out + kLongHeaderBytes - 1, out + kShortHeaderBytes - 1,
                 size - (kShortHeaderBytes - 1));
    out[0] = 1;  // long form
    set_sizes(out, size + kShift, revokes_begin + kShift);
    return kShift;
  }

  // false: the id was already seen for this subject.
  bool add_contribution(Handle& handle, const stream::Event& event, const Rule& rule) {
    const char* blob = arena.resolve(handle);
    const std::string_view id = event.id.view();
    const std::int64_t time_ms = event.time_ms;
    std::uint32_t size = blob_size(blob);
    std::uint32_t revokes_begin = revokes_at(blob);

    // One pass: dedup, the insertion point, and whether a revoke names it.
    std::uint32_t insert_at = revokes_begin;
    for (std::uint32_t at = contributions_at(blob); at < revokes_begin;) {
      const Contribution c = read_contribution(blob + at);
      if (c.id == id) return false;
      if (insert_at == revokes_begin && ordered_before(time_ms, id, c.time_ms, c.id)) {
        insert_at = at;
      }
      at += c.bytes;
    }
    bool revoked = false;
    for (std::uint32_t at = revokes_begin; at < size;) {
      const Revoke r = read_revoke(blob + at);
      if (r.id == id) return false;
      revoked = revoked || r.target == id;
      at += r.bytes;
    }

    const std::string_view source = event.source.view();
    const std::uint16_t rule_ref_value = rule_ref(&rule);
    const std::uint16_t source_ref_value = source_ref(source);
    const std::uint32_t bytes = contribution_bytes(id, rule_ref_value, source, source_ref_value);
    const std::uint32_t shift = widen_for(handle, bytes);
    size += shift;
    revokes_begin += shift;
    insert_at += shift;

    char* out = grow(handle, size, bytes);
    std::memmove(out + insert_at + bytes, out + insert_at, size - insert_at);
    write_contribution(out + insert_at, time_ms, &rule, rule_ref_value, source, source_ref_value,
                       revoked, id);
    set_sizes(out, size + bytes, revokes_begin + bytes);
    if (revoked) {
      // The tombstones naming this id resolve: their target is here now.
      for (std::uint32_t at = revokes_begin + bytes; at < size + bytes;) {
        const Revoke r = read_revoke(out + at);
        if (r.target == id) set_flag(out + at + kRevokeIdAt, true);
        at += r.bytes;
      }
    }
    return true;
  }

  // false: the revoke's own id was already seen for this subject.
  bool add_revoke(Handle& handle, const stream::Event& event) {
    const char* blob = arena.resolve(handle);
    const std::string_view id = event.id.view();
    const std::string_view target = event.revokes.view();
    const std::int64_t time_ms = event.time_ms;
    std::uint32_t size = blob_size(blob);
    const std::uint32_t revokes_begin = revokes_at(blob);

    constexpr std::uint32_t kAbsent = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t target_at = kAbsent;
    for (std::uint32_t at = contributions_at(blob); at < revokes_begin;) {
      const Contribution c = read_contribution(blob + at);
      if (c.id == id) return false;
      if (c.id == target) target_at = at;
      at += c.bytes;
    }
    std::uint32_t insert_at = size;
    for (std::uint32_t at = revokes_begin; at < size;) {
      const Revoke r = read_revoke(blob + at);
      if (r.id == id) return false;
      if (insert_at == size && ordered_before(time_ms, id, r.time_ms, r.id)) insert_at = at;
      at += r.bytes;
    }

    const std::string_view source = event.source.view();
    const std::uint16_t source_ref_value = source_ref(source);
    const std::string_view reason = event.reason.view();
    const std::uint32_t bytes = revoke_bytes(id, target, reason, source, source_ref_value);
    const std::uint32_t shift = widen_for(handle, bytes);
    size += shift;
    insert_at += shift;
    if (target_at != kAbsent) target_at += shift;

    char* out = grow(handle, size, bytes);
    std::memmove(out + insert_at + bytes, out + insert_at, size - insert_at);
    write_revoke(out + insert_at, time_ms, source, source_ref_value, target_at != kAbsent, id,
                 target, reason);
    set_sizes(out, size + bytes, revokes_begin + shift);
    // Contribution offsets are unchanged: revoke records come after them.
    if (target_at != kAbsent) set_flag(out + target_at + kContributionIdAt, true);
    return true;
  }

  // Drops what is past retention from one subject, compacting the blob in
  // place (and moving it to a smaller class). true: nothing is left and the
  // blob has been released.
  bool purge_subject(Handle& handle, std::int64_t now_ms, std::int64_t retain_ms) {
    char* blob = arena.resolve(handle);
    const std::uint32_t size = blob_size(blob);
    const std::uint32_t revokes_begin = revokes_at(blob);
    const std::uint32_t begin = contributions_at(blob);

    std::uint32_t write = begin;
    bool dropped_contribution = false;
    for (std::uint32_t read = begin; read < revokes_begin;) {
      const Contribution c = read_contribution(blob + read);
      const std::uint32_t bytes = c.bytes;
      const std::int64_t expires = expires_of(c.time_ms, c.rule());
      if (expires != kNever && saturating_add(expires, retain_ms) <= now_ms) {
        dropped_contribution = true;
      } else {
        if (write != read) std::memmove(blob + write, blob + read, bytes);
        write += bytes;
      }
      read += bytes;
    }
    const std::uint32_t contributions_end = write;
    for (std::uint32_t read = revokes_begin; read < size;) {
      const Revoke r = read_revoke(blob + read);
      const std::uint32_t bytes = r.bytes;
      // A revoke stays while its target does (it is the target's revocation,
      // and its id is a seen id); a tombstone stays for `retain` after its time.
      bool present = r.target_present;
      if (present && dropped_contribution) {
        present = has_contribution(blob, begin, contributions_end, r.target);
      }
      if (present || saturating_add(r.time_ms, retain_ms) > now_ms) {
        if (write != read) std::memmove(blob + write, blob + read, bytes);
        set_flag(blob + write + kRevokeIdAt, present);
        write += bytes;
      }
      read += bytes;
    }

    if (write == begin) {
      arena.release(handle, BlobArena::capacity_for(size));
      return true;
    }
    set_sizes(blob, write, contributions_end);
    const std::uint32_t old_capacity = BlobArena::capacity_for(size);
    const std::uint32_t new_capacity = BlobArena::capacity_for(write);
    if (new_capacity != old_capacity) {
      handle = arena.reallocate(handle, old_capacity, new_capacity, write);
    }
    return false;
  }

  std::size_t table_bytes() const noexcept {
    // absl's raw_hash_set: one control byte a slot plus a group's worth of
    // cloned control bytes, then the slots.
    const auto hash_table = [](std::size_t capacity, std::size_t slot) {
      return capacity == 0 ? 0 : capacity * (1 + slot) + 16;
    };
    return hash_table(subjects.capacity(), sizeof(Handle)) +
           hash_table(rule_refs.capacity(), sizeof(std::pair<const Rule*, std::uint16_t>)) +
           hash_table(source_refs.capacity(), sizeof(std::pair<std::string, std::uint16_t>));
  }
};

SubjectTable::SubjectTable() : impl_(std::make_unique<Impl>()) {}
SubjectTable::~SubjectTable() = default;

SubjectTable::Applied SubjectTable::apply(const stream::Event& event,
                                          std::optional<std::int64_t> score_before_at) {
  Impl& impl = *impl_;
  const std::string_view subject = event.subject.view();
  const Rule& rule = RuleSet::rule_of(*event.type);
  auto it = impl.subjects.find(subject);
  if (it == impl.subjects.end()) {
    const Handle handle = impl.create(event, rule);
    impl.subjects.insert(handle);
    return {ApplyOutcome::kAccepted, state_of(impl.arena.resolve(handle)), {}};
  }
  ScoreSum before;
  if (score_before_at) before = score_at(*state_of(impl.arena.resolve(*it)), *score_before_at);
  // The set's elements are const because changing one could change its hash;
  // a handle's hash and equality are its subject's bytes, which moving the
  // blob keeps, so updating the handle in place is safe.
  Handle& handle = const_cast<Handle&>(*it);
  const bool accepted =
      rule.is_revoke ? impl.add_revoke(handle, event) : impl.add_contribution(handle, event, rule);
  return {accepted ? ApplyOutcome::kAccepted : ApplyOutcome::kDuplicate,
          state_of(impl.arena.resolve(handle)), before};
}

const SubjectState* SubjectTable::find(std::string_view subject) const {
  const auto it = impl_->subjects.find(subject);
  if (it == impl_->subjects.end()) return nullptr;
  return state_of(impl_->arena.resolve(*it));
}

void SubjectTable::prefetch(std::string_view subject) const noexcept {
  impl_->subjects.prefetch(subject);
}

ScoreSum SubjectTable::score_at(const SubjectState& state, std::int64_t at_ms) noexcept {
  const char* blob = blob_of(state);
  const std::uint32_t end = revokes_at(blob);
  ScoreSum sum;
  for (std::uint32_t at = contributions_at(blob); at < end;) {
    const Contribution c = read_contribution(blob + at);
    if (c.time_ms > at_ms) break;  // sorted by time: nothing later counts either
    if (!c.revoked) {
      const Rule& rule = c.rule();
      if (at_ms < expires_of(c.time_ms, rule)) {
        sum.raw += rule.points;
        ++sum.active;
      }
    }
    at += c.bytes;
  }
  return sum;
}

bool SubjectTable::expires_within(const SubjectState& state, std::int64_t after_ms,
                                  std::int64_t until_ms) noexcept {
  const char* blob = blob_of(state);
  const std::uint32_t end = revokes_at(blob);
  for (std::uint32_t at = contributions_at(blob); at < end;) {
    const Contribution c = read_contribution(blob + at);
    if (!c.revoked) {
      const std::int64_t expires = expires_of(c.time_ms, c.rule());
      if (expires != kNever && expires > after_ms && expires <= until_ms) return true;
    }
    at += c.bytes;
  }
  return false;
}

std::string_view SubjectTable::subject_of(const SubjectState& state) noexcept {
  return subject_in(blob_of(state));
}

void SubjectTable::for_each_contribution(
    const SubjectState& state, const std::function<void(const ContributionView&)>& visit) {
  const char* blob = blob_of(state);
  const std::uint32_t end = revokes_at(blob);
  for (std::uint32_t at = contributions_at(blob); at < end;) {
    const Contribution c = read_contribution(blob + at);
    ContributionView view;
    view.id = c.id;
    const Rule& rule = c.rule();
    view.type = rule.name;
    view.rules_version = rule.rules_version;
    view.points = rule.points;
    view.time_ms = c.time_ms;
    view.expires_ms = expires_of(c.time_ms, rule);
    view.rule = &rule;
    view.source = c.source();
    view.revoked = c.revoked;
    if (c.revoked) {
      if (const char* record = first_revoke_of(blob, c.id)) {
        const Revoke r = read_revoke(record);
        view.revoked_by = r.id;
        view.revoke_source = r.source();
        view.revoke_reason = r.reason;
        view.revoked_at_ms = r.time_ms;
      }
    }
    visit(view);
    at += c.bytes;
  }
}

void SubjectTable::for_each_pending_revoke(
    const SubjectState& state, const std::function<void(const PendingRevokeView&)>& visit) {
  const char* blob = blob_of(state);
  const std::uint32_t end = blob_size(blob);
  for (std::uint32_t at = revokes_at(blob); at < end;) {
    const Revoke r = read_revoke(blob + at);
    if (!r.target_present) {
      PendingRevokeView view;
      view.id = r.id;
      view.target = r.target;
      view.source = r.source();
      view.reason = r.reason;
      view.time_ms = r.time_ms;
      visit(view);
    }
    at += r.bytes;
  }
}

void SubjectTable::for_each_revoke(const SubjectState& state,
                                   const std::function<void(const RevokeView&)>& visit) {
  const char* blob = blob_of(state);
  const std::uint32_t end = blob_size(blob);
  for (std::uint32_t at = revokes_at(blob); at < end;) {
    const Revoke r = read_revoke(blob + at);
    RevokeView view;
    view.id = r.id;
    view.target = r.target;
    view.source = r.source();
    view.reason = r.reason;
    view.time_ms = r.time_ms;
    view.target_present = r.target_present;
    visit(view);
    at += r.bytes;
  }
}

void SubjectTable::for_each_subject(const std::function<void(const SubjectState&)>& visit) const {
  for (const Handle handle : impl_->subjects) visit(*state_of(impl_->arena.resolve(handle)));
}

std::size_t SubjectTable::purge(std::int64_t now_ms, std::int64_t retain_ms) {
  Impl& impl = *impl_;
  std::size_t removed = 0;
  for (auto it = impl.subjects.begin(); it != impl.subjects.end();) {
    Handle& handle = const_cast<Handle&>(*it);  // see apply()
    if (impl.purge_subject(handle, now_ms, retain_ms)) {
      // absl: erasing does not move other elements, so `it++` stays valid.
      impl.subjects.erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  // Size classes left sparse give their chunks back (see BlobArena).
  if (impl.arena.begin_compaction()) {
    for (const Handle& element : impl.subjects) {
      Handle& handle = const_cast<Handle&>(element);  // see apply()
      handle = impl.arena.relocate(handle);
    }
    impl.arena.finish_compaction();
  }
  // A table left mostly empty (a big expiry wave) gives its slots back.
  if (impl.subjects.capacity() > 1024 && impl.subjects.size() * 4 < impl.subjects.capacity()) {
    impl.subjects.rehash(0);
  }
  return removed;
}

std::size_t SubjectTable::subjects() const noexcept { return impl_->subjects.size(); }

std::size_t SubjectTable::memory_bytes() const noexcept {
  return sizeof(Impl) + impl_->table_bytes() + impl_->arena.memory_bytes();
}

}  // namespace tally::scorer
