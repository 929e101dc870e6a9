#include "scorer/blob_arena.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace tally::scorer {
namespace {

// What glibc's malloc really takes for a request: an 8-byte header, 16-byte
// granularity.
constexpr std::size_t malloc_footprint(std::uint32_t capacity) noexcept {
  return (std::size_t{capacity} + 8 + 15) / 16 * 16;
}

}  // namespace

BlobArena::~BlobArena() {
  for (char* blob : large_) std::free(blob);
}

std::uint32_t BlobArena::next_free(std::uint32_t cls, std::uint32_t index) const noexcept {
  std::uint32_t next = 0;
  std::memcpy(&next, block(cls, index), sizeof next);
  return next;
}

BlobArena::Handle BlobArena::allocate(std::uint32_t capacity) {
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

BlobArena::Handle BlobArena::allocate_small(std::uint32_t cls) {
  SizeClass& size_class = small_[cls];
  std::uint32_t index = size_class.free_head;
  if (index != kNoBlock) {
    size_class.free_head = next_free(cls, index);
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

void BlobArena::release(Handle handle, std::uint32_t capacity) noexcept {
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
  std::memcpy(block(cls, index), &size_class.free_head, sizeof size_class.free_head);
  size_class.free_head = index;
  ++size_class.free_count;
}

BlobArena::Handle BlobArena::reallocate(Handle handle, std::uint32_t old_capacity,
                                        std::uint32_t new_capacity, std::uint32_t keep) {
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

bool BlobArena::begin_compaction() {
  bool any = false;
  for (std::uint32_t cls = 0; cls < kSmallClasses; ++cls) {
    SizeClass& size_class = small_[cls];
    if (size_class.free_count < kChunkBlocks || size_class.free_count * 4 < size_class.carved) {
      continue;
    }
    size_class.compact_to = size_class.carved - size_class.free_count;
    size_class.holes.clear();
    for (std::uint32_t index = size_class.free_head; index != kNoBlock;
         index = next_free(cls, index)) {
      if (index < size_class.compact_to) size_class.holes.push_back(index);
    }
    any = true;
  }
  return any;
}

BlobArena::Handle BlobArena::relocate(Handle handle) noexcept {
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

void BlobArena::finish_compaction() {
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

std::size_t BlobArena::memory_bytes() const noexcept {
  std::size_t bytes = large_bytes_ + large_.capacity() * sizeof(char*) +
                      large_free_.capacity() * sizeof(std::uint32_t);
  for (std::uint32_t cls = 0; cls < kSmallClasses; ++cls) {
    bytes += std::size_t{small_[cls].carved} * block_bytes(cls) +
             small_[cls].chunks.capacity() * sizeof(std::unique_ptr<char[]>);
  }
  return bytes;
}

}  // namespace tally::scorer
