// Partitions of the replicated log (NATS JetStream): which partition an
// event belongs to, the subject it is published on, and sets of partitions a
// node owns ("0-31,40").
//
// The partition of an event is a fixed function of its subject's key group
// (core/key_groups.h): key_group % P, P fixed when the stream is created.
// Every event of one subject therefore lands in one partition, so a node that
// owns a partition holds whole subjects, and a subject's owner is known from
// its name alone (the `moved` answer and the client's routing use that).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_groups.h"
#include "core/status.h"

namespace tally {

// Partitions a stream gets unless told otherwise; divides kKeyGroups, so
// every partition holds the same number of key groups.
inline constexpr std::uint32_t kDefaultPartitions = 64;
// Stream name unless told otherwise.
inline constexpr const char* kDefaultStream = "TALLY";

constexpr std::uint32_t partition_of_group(std::uint32_t key_group,
                                           std::uint32_t partitions) noexcept {
  return key_group % partitions;
}
constexpr std::uint32_t partition_of_hash(std::uint64_t subject_hash,
                                          std::uint32_t partitions) noexcept {
  return partition_of_group(key_group_of(subject_hash), partitions);
}
inline std::uint32_t partition_of_subject(std::string_view subject,
                                          std::uint32_t partitions) noexcept {
  return partition_of_hash(stable_hash64(subject), partitions);
}

// The subjects of a stream's partitions: "<stream in lower case>.events.<p>";
// for the default stream, tally.events.0 ... tally.events.63.
std::string partition_subject_prefix(std::string_view stream);
std::string partition_subject(std::string_view stream, std::uint32_t partition);

// A set of partitions out of P.
class PartitionSet {
 public:
  // Every partition of P.
  static PartitionSet all(std::uint32_t partitions);
  // "0-31,40" (ranges inclusive, any order, overlaps allowed) or "all".
  // Refused: a number >= P, a reversed range, an empty set, stray text.
  static Result<PartitionSet> parse(std::string_view spec, std::uint32_t partitions);

  std::uint32_t partitions() const noexcept { return static_cast<std::uint32_t>(owned_.size()); }
  bool contains(std::uint32_t partition) const noexcept {
    return partition < owned_.size() && owned_[partition];
  }
  bool contains_subject(std::string_view subject) const noexcept {
    return contains(partition_of_subject(subject, partitions()));
  }
  std::vector<std::uint32_t> list() const;
  std::size_t size() const noexcept;
  bool is_all() const noexcept { return size() == owned_.size(); }
  // Compact form, "0-31,40"; parse(to_string()) gives the same set.
  std::string to_string() const;

 private:
  std::vector<bool> owned_;  // one per partition of P
};

}  // namespace tally
