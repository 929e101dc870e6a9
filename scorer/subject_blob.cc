#include "scorer/subject_blob.h"

#include <absl/container/flat_hash_set.h>

namespace tally::scorer::blob {
namespace {

constexpr std::uint32_t kManyRevokesBytes = 4096;

bool has_contribution(const char* blob, std::uint32_t begin, std::uint32_t end,
                      std::string_view id) noexcept {
  for (std::uint32_t at = begin; at < end;) {
    const Contribution c = read_contribution(blob + at);
    if (c.id == id) return true;
    at += c.bytes;
  }
  return false;
}

}  // namespace

const char* first_revoke_of(const char* blob, std::string_view id) noexcept {
  const std::uint32_t end = blob_size(blob);
  for (std::uint32_t at = revokes_at(blob); at < end;) {
    const Revoke r = read_revoke(blob + at);
    if (r.target_present && r.target == id) return blob + at;
    at += r.bytes;
  }
  return nullptr;
}

RetainedSizes drop_past_retention(char* blob, std::int64_t now_ms, std::int64_t retain_ms,
                                  const InternTable& interns) {
  const std::uint32_t size = blob_size(blob);
  const std::uint32_t revokes_begin = revokes_at(blob);
  const std::uint32_t begin = contributions_at(blob);

  std::uint32_t write = begin;
  bool dropped_contribution = false;
  for (std::uint32_t read = begin; read < revokes_begin;) {
    const Contribution c = read_contribution(blob + read);
    const std::uint32_t bytes = c.bytes;
    const std::int64_t expires = expires_of(c.time_ms, c.rule(interns));
    if (expires != kNever && saturating_add(expires, retain_ms) <= now_ms) {
      dropped_contribution = true;
    } else {
      if (write != read) std::memmove(blob + write, blob + read, bytes);
      write += bytes;
    }
    read += bytes;
  }
  const std::uint32_t contributions_end = write;
  // Which revokes still find their target: a pass over the contributions
  // each, or, where there are many revokes, one pass into a set.
  absl::flat_hash_set<std::string_view> kept;
  if (dropped_contribution && size - revokes_begin > kManyRevokesBytes) {
    for (std::uint32_t at = begin; at < contributions_end;) {
      const Contribution c = read_contribution(blob + at);
      kept.insert(c.id);
      at += c.bytes;
    }
  }
  for (std::uint32_t read = revokes_begin; read < size;) {
    const Revoke r = read_revoke(blob + read);
    const std::uint32_t bytes = r.bytes;
    bool present = r.target_present;
    if (present && dropped_contribution) {
      present = kept.empty() ? has_contribution(blob, begin, contributions_end, r.target)
                             : kept.contains(r.target);
    }
    if (present || saturating_add(r.time_ms, retain_ms) > now_ms) {
      if (write != read) std::memmove(blob + write, blob + read, bytes);
      set_flag(blob + write + kRevokeIdAt, present);
      write += bytes;
    }
    read += bytes;
  }
  if (write == begin) return {0, 0};
  set_sizes(blob, write, contributions_end);
  return {write, contributions_end};
}

}  // namespace tally::scorer::blob
