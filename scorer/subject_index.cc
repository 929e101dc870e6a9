#include "scorer/subject_index.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "scorer/subject_blob.h"

namespace tally::scorer {

namespace {

constexpr std::size_t kPoolBlockBytes = 16 * 1024;
// A gap between two marks this long is marked again (amortised: it takes
// three spacings' worth of inserts into one gap).
constexpr std::uint32_t kLongestGap = 4 * SubjectIndex::kMarkSpacing;

struct Key {
  std::int64_t time_ms;
  std::string_view id;
  std::uint32_t bytes;
};

Key read_key(const char* at, bool revokes) noexcept {
  if (revokes) {
    const blob::Revoke r = blob::read_revoke(at);
    return {r.time_ms, r.id, r.bytes};
  }
  const blob::Contribution c = blob::read_contribution(at);
  return {c.time_ms, c.id, c.bytes};
}

}  // namespace

SubjectIndex::SubjectIndex(const char* blob, const InternTable& interns)
    : score_at_ms_(blob::kMinTime) {
  const std::uint32_t contributions_begin = blob::contributions_at(blob);
  const std::uint32_t revokes_begin = blob::revokes_at(blob);
  const std::uint32_t end = blob::blob_size(blob);
  for (std::uint32_t at = contributions_begin; at < revokes_begin;) {
    const blob::Contribution c = blob::read_contribution(blob + at);
    const Rule& rule = c.rule(interns);
    const std::uint32_t entry = add_entry(
        {c.time_ms, blob::expires_of(c.time_ms, rule), rule.points, true, c.revoked, keep(c.id)});
    if (!c.revoked) changes_.push_back({c.time_ms, entry, false});
    at += c.bytes;
  }
  for (std::uint32_t at = revokes_begin; at < end;) {
    const blob::Revoke r = blob::read_revoke(blob + at);
    add_entry({r.time_ms, kNever, 0, false, false, keep(r.id)});
    if (!r.target_present && !awaited_.contains(r.target)) awaited_.insert(keep(r.target));
    at += r.bytes;
  }
  remark(contributions_, -1, blob + contributions_begin, revokes_begin - contributions_begin,
         false);
  remark(revokes_, -1, blob + revokes_begin, end - revokes_begin, true);
  std::make_heap(changes_.begin(), changes_.end(), std::greater<>());
  advance(blob::kMinTime);
}

bool SubjectIndex::has_id(std::string_view id) const noexcept { return ids_.contains(id); }

bool SubjectIndex::awaited(std::string_view id) const noexcept { return awaited_.contains(id); }

std::optional<std::int64_t> SubjectIndex::contribution_time(std::string_view id) const noexcept {
  const auto it = ids_.find(id);
  if (it == ids_.end() || !entries_[it->second].contribution) return std::nullopt;
  return entries_[it->second].time_ms;
}

std::string_view SubjectIndex::keep(std::string_view text) {
  if (text.size() > pool_left_) {  // ids and targets are at most 64 bytes
    pool_.push_back(std::make_unique<char[]>(kPoolBlockBytes));
    pool_next_ = pool_.back().get();
    pool_left_ = kPoolBlockBytes;
  }
  std::memcpy(pool_next_, text.data(), text.size());
  const std::string_view kept(pool_next_, text.size());
  pool_next_ += text.size();
  pool_left_ -= text.size();
  return kept;
}

std::uint32_t SubjectIndex::add_entry(const Entry& entry) {
  const auto index = static_cast<std::uint32_t>(entries_.size());
  entries_.push_back(entry);
  ids_.emplace(entry.id, index);
  return index;
}

std::uint32_t SubjectIndex::scan_from(const Section& section, std::int64_t time_ms,
                                      std::string_view id, bool inclusive) const noexcept {
  // The last mark ordered before (time, id), or at it when inclusive.
  const auto after =
      std::partition_point(section.marks.begin(), section.marks.end(), [&](const Mark& mark) {
        return inclusive ? !blob::ordered_before(time_ms, id, mark.time_ms, mark.id)
                         : blob::ordered_before(mark.time_ms, mark.id, time_ms, id);
      });
  return after == section.marks.begin() ? 0 : std::prev(after)->offset;
}

std::uint32_t SubjectIndex::insert_point(const Section& section, const char* records,
                                         std::uint32_t bytes, std::int64_t time_ms,
                                         std::string_view id, bool revokes) const noexcept {
  std::uint32_t at = scan_from(section, time_ms, id, false);
  while (at < bytes) {
    const Key key = read_key(records + at, revokes);
    if (blob::ordered_before(time_ms, id, key.time_ms, key.id)) break;
    at += key.bytes;
  }
  return at;
}

std::uint32_t SubjectIndex::contribution_insert_point(const char* section, std::uint32_t bytes,
                                                      std::int64_t time_ms,
                                                      std::string_view id) const noexcept {
  return insert_point(contributions_, section, bytes, time_ms, id, false);
}

std::uint32_t SubjectIndex::revoke_insert_point(const char* section, std::uint32_t bytes,
                                                std::int64_t time_ms,
                                                std::string_view id) const noexcept {
  return insert_point(revokes_, section, bytes, time_ms, id, true);
}

std::uint32_t SubjectIndex::contribution_offset(const char* section, std::uint32_t bytes,
                                                std::int64_t time_ms,
                                                std::string_view id) const noexcept {
  std::uint32_t at = scan_from(contributions_, time_ms, id, true);
  while (at < bytes) {
    const Key key = read_key(section + at, false);
    if (key.id == id) break;
    at += key.bytes;
  }
  return at;
}

void SubjectIndex::inserted(Section& section, std::uint32_t offset, std::uint32_t record_bytes,
                            const char* records, std::uint32_t bytes, bool revokes) {
  // Marks at or past the insertion point are the records ordered after the
  // new one: they moved up by its size.
  const auto moved = std::partition_point(section.marks.begin(), section.marks.end(),
                                          [&](const Mark& mark) { return mark.offset < offset; });
  const auto gap = moved - section.marks.begin() - 1;  // -1: before the first mark
  for (auto it = moved; it != section.marks.end(); ++it) it->offset += record_bytes;
  std::uint32_t& count = gap < 0 ? section.head_records : section.marks[gap].records;
  if (++count > kLongestGap) remark(section, gap, records, bytes, revokes);
}

void SubjectIndex::remark(Section& section, std::ptrdiff_t gap, const char* records,
                          std::uint32_t bytes, bool revokes) {
  // Marks the records of one gap afresh, every kMarkSpacing-th, in place of
  // the gap's own mark: O(gap + marks), not a pass over the section.
  const auto next = section.marks.begin() + (gap + 1);
  const std::uint32_t end = next == section.marks.end() ? bytes : next->offset;
  std::uint32_t at = gap < 0 ? 0 : section.marks[static_cast<std::size_t>(gap)].offset;
  std::vector<Mark> fresh;
  for (std::uint32_t ordinal = 0; at < end; ++ordinal) {
    const Key key = read_key(records + at, revokes);
    if (ordinal % kMarkSpacing == 0) {
      fresh.push_back({key.time_ms, entries_[ids_.find(key.id)->second].id, at, 0});
    }
    ++fresh.back().records;
    at += key.bytes;
  }
  if (gap < 0) {
    section.head_records = 0;
    section.marks.insert(section.marks.begin(), fresh.begin(), fresh.end());
    return;
  }
  const auto own = section.marks.begin() + gap;
  *own = fresh.front();
  section.marks.insert(own + 1, fresh.begin() + 1, fresh.end());
}

void SubjectIndex::contribution_inserted(std::int64_t time_ms, std::string_view id,
                                         const Rule& rule, bool revoked, std::uint32_t offset,
                                         std::uint32_t record_bytes, const char* section,
                                         std::uint32_t bytes) {
  const std::uint32_t entry =
      add_entry({time_ms, blob::expires_of(time_ms, rule), rule.points, true, revoked, keep(id)});
  if (revoked) awaited_.erase(id);
  inserted(contributions_, offset, record_bytes, section, bytes, false);
  if (!revoked) counts_from(entry);
}

void SubjectIndex::revoke_inserted(std::int64_t time_ms, std::string_view id,
                                   std::string_view target, bool target_present,
                                   std::uint32_t offset, std::uint32_t record_bytes,
                                   const char* section, std::uint32_t bytes) {
  add_entry({time_ms, kNever, 0, false, false, keep(id)});
  inserted(revokes_, offset, record_bytes, section, bytes, true);
  if (target_present) {
    revoke_named(target);
  } else if (!awaited_.contains(target)) {
    awaited_.insert(keep(target));
  }
}

void SubjectIndex::counts_from(std::uint32_t entry) {
  const Entry& e = entries_[entry];
  if (e.time_ms > score_at_ms_) {
    changes_.push_back({e.time_ms, entry, false});
    std::push_heap(changes_.begin(), changes_.end(), std::greater<>());
    return;
  }
  if (e.expires_ms <= score_at_ms_) return;  // came and went before that instant
  score_.raw += e.points;
  ++score_.active;
  if (e.expires_ms != kNever) {
    changes_.push_back({e.expires_ms, entry, true});
    std::push_heap(changes_.begin(), changes_.end(), std::greater<>());
  }
}

void SubjectIndex::revoke_named(std::string_view target) {
  const auto it = ids_.find(target);
  if (it == ids_.end()) return;
  Entry& e = entries_[it->second];
  if (!e.contribution || e.revoked) return;
  e.revoked = true;  // its changes still in the heap are skipped when reached
  if (e.time_ms <= score_at_ms_ && score_at_ms_ < e.expires_ms) {
    score_.raw -= e.points;
    --score_.active;
  }
}

void SubjectIndex::advance(std::int64_t at_ms) {
  while (!changes_.empty() && changes_.front().at_ms <= at_ms) {
    std::pop_heap(changes_.begin(), changes_.end(), std::greater<>());
    const Change change = changes_.back();
    changes_.pop_back();
    const Entry& e = entries_[change.entry];
    if (e.revoked) continue;
    if (change.stops) {
      score_.raw -= e.points;
      --score_.active;
      continue;
    }
    score_.raw += e.points;
    ++score_.active;
    if (e.expires_ms != kNever) {
      changes_.push_back({e.expires_ms, change.entry, true});
      std::push_heap(changes_.begin(), changes_.end(), std::greater<>());
    }
  }
  score_at_ms_ = at_ms;
}

std::optional<ScoreSum> SubjectIndex::score_at(std::int64_t at_ms) {
  if (at_ms < score_at_ms_) return std::nullopt;
  advance(at_ms);
  return score_;
}

std::size_t SubjectIndex::memory_bytes() const noexcept {
  std::size_t bytes = sizeof(*this);
  bytes += pool_.size() * kPoolBlockBytes;
  bytes += entries_.capacity() * sizeof(Entry);
  bytes += ids_.capacity() * (1 + sizeof(std::pair<std::string_view, std::uint32_t>));
  bytes += awaited_.capacity() * (1 + sizeof(std::string_view));
  bytes += (contributions_.marks.capacity() + revokes_.marks.capacity()) * sizeof(Mark);
  bytes += changes_.capacity() * sizeof(Change);
  return bytes;
}

}  // namespace tally::scorer
