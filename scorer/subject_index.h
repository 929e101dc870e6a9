// SubjectIndex: what the table keeps beside a large subject's blob, so that
// one more event costs O(log n) instead of a pass over the subject's n records.
//
// Most subjects hold a handful of records, and one pass over a few hundred
// bytes is the cheapest way to apply an event to them (subject_table.cc). A
// fleet vehicle or a company can hold tens of thousands, and a pass per event
// makes its history cost O(n^2). So once a blob reaches 4 KiB (the table's
// SubjectTableOptions::index_from_bytes) the table
// builds one of these (O(n log n), once) and keeps it in step with every
// insert. Anything else that rewrites the blob (a purge, a move to another
// worker) drops it, and the next event builds it again. It is derived data:
// never journaled or snapshotted; a blob answers the same with or without it.
//
// What it holds, and what each part answers:
//  - every id in the blob, contributions and revokes, with its terms: dedup,
//    "is the target of this revoke here?" and "is this contribution revoked?"
//    in O(1);
//  - the ids revokes name that are not here: a contribution arriving for one
//    is born revoked;
//  - sparse marks over each of the blob's two sorted sections (every
//    kMarkSpacing-th record's (time, id) and offset): an insertion point or a
//    record's offset is a binary search plus a scan of at most a few dozen
//    records;
//  - the score at one instant and, in a heap, the instants after it where a
//    contribution starts or stops counting: the score "now", with now moving
//    forward, costs O(log n) per instant crossed, each crossed once.
//
// Cost: about 100 bytes a record, for subjects past the threshold only. An
// insert is O(log n), plus shifting the marks after it (n / kMarkSpacing), plus
// the blob's memmove of the records after it, which is nothing when events
// arrive in time order.
//
// Thread-safety: none; owned by the table, used on its worker's thread.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "scorer/intern_table.h"
#include "scorer/rules.h"
#include "scorer/subject_table.h"

namespace tally::scorer {

class SubjectIndex {
 public:
  static constexpr std::uint32_t kMarkSpacing = 64;

  // Indexes `blob` as it is now.
  SubjectIndex(const char* blob, const InternTable& interns);

  // A contribution or revoke with this id is here.
  bool has_id(std::string_view id) const noexcept;
  // A revoke here names `id`, and no contribution `id` is here.
  bool awaited(std::string_view id) const noexcept;
  // Records (contributions and revokes) in the blob.
  std::size_t records() const noexcept { return entries_.size(); }

  // The contribution `id`, when it is here: its time, to find it by.
  std::optional<std::int64_t> contribution_time(std::string_view id) const noexcept;

  // Offsets below are from the start of a section: `section` points at the
  // blob's first contribution (or first revoke) and holds `bytes` bytes.
  // Where a record keyed (time, id) goes: before the first one ordered after it.
  std::uint32_t contribution_insert_point(const char* section, std::uint32_t bytes,
                                          std::int64_t time_ms, std::string_view id) const noexcept;
  std::uint32_t revoke_insert_point(const char* section, std::uint32_t bytes, std::int64_t time_ms,
                                    std::string_view id) const noexcept;
  // Where the contribution keyed (time, id) is; it must be here.
  std::uint32_t contribution_offset(const char* section, std::uint32_t bytes, std::int64_t time_ms,
                                    std::string_view id) const noexcept;

  // After the table wrote a record of `record_bytes` at `offset` into a
  // section (which now points at `section` and holds `bytes`).
  void contribution_inserted(std::int64_t time_ms, std::string_view id, const Rule& rule,
                             bool revoked, std::uint32_t offset, std::uint32_t record_bytes,
                             const char* section, std::uint32_t bytes);
  void revoke_inserted(std::int64_t time_ms, std::string_view id, std::string_view target,
                       bool target_present, std::uint32_t offset, std::uint32_t record_bytes,
                       const char* section, std::uint32_t bytes);

  // The score at `at_ms`, if the index can tell without a pass over the blob:
  // when at_ms is not before the last instant asked for.
  std::optional<ScoreSum> score_at(std::int64_t at_ms);

  std::size_t memory_bytes() const noexcept;

 private:
  struct Entry {
    std::int64_t time_ms;
    std::int64_t expires_ms;  // contributions: time + the rule's expiry, or kNever
    std::int32_t points;      // contributions: the rule's
    bool contribution;
    bool revoked;
    std::string_view id;  // into pool_
  };
  // Every kMarkSpacing-th record of a section, with the count of records from
  // it to the next mark (so a gap grown too long is noticed and re-marked).
  struct Mark {
    std::int64_t time_ms;
    std::string_view id;  // into pool_
    std::uint32_t offset;
    std::uint32_t records;
  };
  struct Section {
    std::vector<Mark> marks;
    std::uint32_t head_records = 0;  // before the first mark
  };
  // An instant after score_at_ms_ where a contribution starts or stops counting.
  struct Change {
    std::int64_t at_ms;
    std::uint32_t entry;
    bool stops;
    bool operator>(const Change& other) const noexcept { return at_ms > other.at_ms; }
  };

  std::string_view keep(std::string_view text);
  std::uint32_t add_entry(const Entry& entry);
  std::uint32_t scan_from(const Section& section, std::int64_t time_ms, std::string_view id,
                          bool inclusive) const noexcept;
  std::uint32_t insert_point(const Section& section, const char* records, std::uint32_t bytes,
                             std::int64_t time_ms, std::string_view id,
                             bool revokes) const noexcept;
  void inserted(Section& section, std::uint32_t offset, std::uint32_t record_bytes,
                const char* records, std::uint32_t bytes, bool revokes);
  // Marks the records of gap `gap` (-1: before the first mark; on an empty
  // section, all of it) afresh.
  void remark(Section& section, std::ptrdiff_t gap, const char* records, std::uint32_t bytes,
              bool revokes);
  void counts_from(std::uint32_t entry);  // a contribution starts counting now
  void revoke_named(std::string_view target);
  void advance(std::int64_t at_ms);

  std::vector<std::unique_ptr<char[]>> pool_;
  char* pool_next_ = nullptr;
  std::size_t pool_left_ = 0;
  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string_view, std::uint32_t> ids_;  // -> entries_
  absl::flat_hash_set<std::string_view> awaited_;             // named by a revoke, not here
  Section contributions_, revokes_;

  // The score at score_at_ms_: every change at or before it is counted.
  std::int64_t score_at_ms_;
  ScoreSum score_;
  std::vector<Change> changes_;  // a min-heap on at_ms
};

}  // namespace tally::scorer
