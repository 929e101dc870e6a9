// Routing: subject -> stable 64-bit hash -> one of kKeyGroups key groups ->
// the worker that owns the group.
//
// Key groups are the unit of ownership (as in Flink): a worker owns whole
// groups, never parts of one, so changing the worker count moves groups, not
// individual subjects, and the subject -> group mapping never changes. The
// hash is stable across processes and builds (it is part of the on-disk
// story once snapshots exist), so it is not absl::Hash, which is seeded.
//
// Thread-safety: KeyGroupMap is immutable after construction.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace tally {

inline constexpr std::uint32_t kKeyGroups = 4096;

// FNV-1a over the bytes, then a 64-bit finaliser (from MurmurHash3's fmix64)
// so that the low and high bits are both well mixed.
constexpr std::uint64_t stable_hash64(std::string_view bytes) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

constexpr std::uint32_t key_group_of(std::uint64_t subject_hash) noexcept {
  return static_cast<std::uint32_t>(subject_hash % kKeyGroups);
}

// Assigns key groups to workers in contiguous ranges, so that a change of
// worker count moves as few groups as a range split can.
class KeyGroupMap {
 public:
  explicit KeyGroupMap(std::uint32_t workers);

  std::uint32_t workers() const noexcept { return workers_; }
  std::uint32_t worker_of_group(std::uint32_t group) const noexcept { return owner_[group]; }
  std::uint32_t worker_of(std::uint64_t subject_hash) const noexcept {
    return owner_[key_group_of(subject_hash)];
  }

 private:
  std::uint32_t workers_;
  std::vector<std::uint16_t> owner_;  // kKeyGroups entries
};

}  // namespace tally
