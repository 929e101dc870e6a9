// Routing: subject -> stable 64-bit hash -> one of kKeyGroups key groups ->
// the worker that owns the group.
//
// Key groups are the unit of ownership (as in Flink): a worker owns whole
// groups, never parts of one, so changing the worker count moves groups, not
// individual subjects, and the subject -> group mapping never changes. The
// hash is stable across processes and builds (it is part of the on-disk
// story once snapshots exist), so it is not absl::Hash, which is seeded.
//
// Ownership changes at run time (a live worker-count change, route_wave.h):
// the owner of each group is an atomic that only the event producer (the
// ingest thread) writes, between batches, when it applies a RouteWave; so
// the producer's own reads need no ordering, and any other reader (a query
// routed by subject) may see the owner of just before a change, which the
// worker it reaches detects (it no longer holds the group) and the query is
// sent again.
//
// Thread-safety: reads from any thread; set_owner() and take_wave() from the
// producer only; post_wave() from one rescaling thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace tally {

inline constexpr std::uint32_t kKeyGroups = 4096;

// stable_hash64 of bytes given in pieces: the same value as the hash of the
// pieces joined, without joining them into a string first.
class StableHasher {
 public:
  constexpr StableHasher& add(std::string_view bytes) noexcept {
    for (char c : bytes) add(c);
    return *this;
  }
  constexpr StableHasher& add(char c) noexcept {
    hash_ ^= static_cast<unsigned char>(c);
    hash_ *= 0x100000001b3ULL;
    return *this;
  }
  constexpr std::uint64_t finish() const noexcept {
    std::uint64_t hash = hash_;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return hash;
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// FNV-1a over the bytes, then a 64-bit finaliser (from MurmurHash3's fmix64)
// so that the low and high bits are both well mixed.
constexpr std::uint64_t stable_hash64(std::string_view bytes) noexcept {
  return StableHasher().add(bytes).finish();
}

constexpr std::uint32_t key_group_of(std::uint64_t subject_hash) noexcept {
  return static_cast<std::uint32_t>(subject_hash % kKeyGroups);
}

struct RouteWave;  // route_wave.h

class KeyGroupMap {
 public:
  // Contiguous ranges over `workers` (1..kKeyGroups), so that a restart with
  // another count moves as few groups as a range split can.
  explicit KeyGroupMap(std::uint32_t workers);
  ~KeyGroupMap();
  KeyGroupMap(const KeyGroupMap&) = delete;
  KeyGroupMap& operator=(const KeyGroupMap&) = delete;

  // The owner at start for `workers` workers (the contiguous ranges).
  static std::uint32_t initial_owner(std::uint32_t group, std::uint32_t workers) noexcept {
    return static_cast<std::uint32_t>(std::uint64_t{group} * workers / kKeyGroups);
  }

  std::uint32_t worker_of_group(std::uint32_t group) const noexcept {
    return owner_[group].load(std::memory_order_relaxed);
  }
  std::uint32_t worker_of(std::uint64_t subject_hash) const noexcept {
    return worker_of_group(key_group_of(subject_hash));
  }
  // Every group's owner now (kKeyGroups entries).
  std::vector<std::uint32_t> owners() const;
  // How many groups each of workers 0..slots-1 owns now.
  std::vector<std::uint32_t> groups_per_worker(std::uint32_t slots) const;

  // The producer, applying a wave.
  void set_owner(std::uint32_t group, std::uint32_t worker) noexcept {
    owner_[group].store(static_cast<std::uint16_t>(worker), std::memory_order_relaxed);
  }

  // The mailbox between whoever changes the worker count and the producer:
  // post_wave() leaves a wave (at most one at a time) and wakes the
  // producer through wake_fd() (an eventfd a polling producer adds to its
  // poll set); the producer takes it between batches with take_wave(), which
  // also clears the eventfd. One atomic load per call when nothing waits.
  void post_wave(RouteWave* wave) noexcept;
  RouteWave* take_wave() noexcept;
  int wake_fd() const noexcept { return wake_fd_; }

 private:
  std::unique_ptr<std::atomic<std::uint16_t>[]> owner_;  // kKeyGroups entries
  std::atomic<RouteWave*> pending_{nullptr};
  int wake_fd_ = -1;
};

}  // namespace tally
