// BlobArena: where a shard's subject blobs live (subject_blob.h), addressed by
// 4-byte handles, with no per-blob malloc header.
//
//   size classes of 8..248 bytes in 8-byte steps, carved from chunks of 1024
//   blocks (at most 7 bytes of rounding per blob); larger blobs (busy
//   subjects) are malloc'd. Handle = class (5 bits) | index (27 bits).
//
// Growth: a blob's capacity is a pure function of its size (capacity_for), so
// the arena never stores it; the table passes it back. A blob moves to another
// class only when its size crosses a class boundary (reallocate).
//
// Freeing and compaction: a freed block goes to its class's free list and is
// reused by the next blob of that class. A class left sparse (a quarter or
// more of its blocks free, and at least a chunk's worth, e.g. after a wave of
// subjects grew into the next class) is compacted on request: the table, which
// owns the handles, relocates every live one and the chunks above the live
// count are freed. So the footprint is bounded by the peak of live content per
// class between compactions, and by about 4/3 of the live content after one,
// never by the number of blobs ever allocated.
//
// Limits: 2^27 blobs per size class and per large class; past that, and when
// malloc fails, allocate() throws (std::length_error, std::bad_alloc) like any
// container out of memory.
//
// Thread-safety: none; an arena belongs to one table.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace tally::scorer {

class BlobArena {
 public:
  using Handle = std::uint32_t;

  BlobArena() = default;
  BlobArena(const BlobArena&) = delete;
  BlobArena& operator=(const BlobArena&) = delete;
  ~BlobArena();

  // The capacity a blob of `size` bytes is kept in. Up to kMaxSmallBytes, the
  // size rounded up to 8; beyond, rounded up to an eighth of its power of two,
  // so that a growing busy subject is copied O(1) times per byte on average.
  static std::uint32_t capacity_for(std::uint32_t size) noexcept {
    if (size <= kMaxSmallBytes) return std::max<std::uint32_t>(kGranule, round_up(size, kGranule));
    const std::uint32_t step = std::max<std::uint32_t>(16, std::bit_floor(size) / 8);
    return round_up(size, step);
  }

  // A blob of `capacity` (a capacity_for value); its bytes are uninitialised.
  Handle allocate(std::uint32_t capacity);
  // Frees a blob; `capacity` is the one it was allocated with. Never allocates.
  void release(Handle handle, std::uint32_t capacity) noexcept;
  // Moves a blob to `new_capacity`, keeping its first `keep` bytes; the
  // returned handle replaces `handle`.
  Handle reallocate(Handle handle, std::uint32_t old_capacity, std::uint32_t new_capacity,
                    std::uint32_t keep);

  char* resolve(Handle handle) const noexcept {
    const std::uint32_t cls = handle >> kIndexBits;
    const std::uint32_t index = handle & kIndexMask;
    if (cls == kLargeClass) return large_[index];
    return block(cls, index);
  }

  // Compaction, driven by the owner of the handles: begin_compaction() (false:
  // no class is sparse, nothing to do); then relocate() every live handle,
  // replacing it with the result; then finish_compaction(), which frees the
  // chunks above each compacted class's live count. Blobs at or above the live
  // count move into the free blocks below it; there are exactly as many of each.
  bool begin_compaction();
  Handle relocate(Handle handle) noexcept;
  void finish_compaction();

  // Blocks ever carved (free-listed ones included: they are held) plus the
  // malloc'd blobs with glibc's per-chunk overhead, plus bookkeeping.
  std::size_t memory_bytes() const noexcept;

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

  char* block(std::uint32_t cls, std::uint32_t index) const noexcept {
    return small_[cls].chunks[index >> kChunkBlocksLog2].get() +
           std::size_t{index & (kChunkBlocks - 1)} * block_bytes(cls);
  }
  Handle allocate_small(std::uint32_t cls);
  // The free list's link, stored in the freed block itself.
  std::uint32_t next_free(std::uint32_t cls, std::uint32_t index) const noexcept;

  std::array<SizeClass, kSmallClasses> small_;
  std::vector<char*> large_;  // nullptr where freed
  std::vector<std::uint32_t> large_free_;
  std::size_t large_bytes_ = 0;
};

}  // namespace tally::scorer
