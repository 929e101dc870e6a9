// Routing: the subject hash is pinned (a change would move every subject to
// another key group and orphan its state), and KeyGroupMap splits the groups
// into contiguous, balanced ranges.
#include "core/key_groups.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tally {
namespace {

// Pinned at compile time as well: the hash is constexpr. The values were
// cross-checked with an independent implementation (FNV-1a 64, then
// MurmurHash3's fmix64).
static_assert(stable_hash64("plate:NY:ABC1234") == 0x4a130deedefc96c0ULL);

TEST(KeyGroupsTest, HashIsPinned) {
  EXPECT_EQ(stable_hash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(stable_hash64("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(stable_hash64("plate:NY:ABC1234"), 0x4a130deedefc96c0ULL);
  EXPECT_EQ(stable_hash64("org:acme"), 0x2c85734783fa7d63ULL);
  EXPECT_EQ(stable_hash64("person:Jos\xC3\xA9"), 0xfad4f61809e5aba4ULL);  // bytes, not chars
  EXPECT_EQ(key_group_of(stable_hash64("plate:NY:ABC1234")), 1728u);
  EXPECT_EQ(key_group_of(stable_hash64("person:Jos\xC3\xA9")), 2980u);
}

TEST(KeyGroupsTest, HashSeesEveryByte) {
  // High bytes are hashed as unsigned; NUL is a byte like any other; a
  // prefix, or a change in any position, gives another hash.
  EXPECT_NE(stable_hash64("\xFF"), stable_hash64("\x7F"));
  EXPECT_NE(stable_hash64(std::string_view("a\0", 2)), stable_hash64("a"));
  const std::string subject = "plate:NY:ABC1234";
  for (std::size_t i = 0; i < subject.size(); ++i) {
    std::string changed = subject;
    changed[i] ^= 1;
    EXPECT_NE(stable_hash64(changed), stable_hash64(subject)) << i;
    EXPECT_NE(stable_hash64(subject.substr(0, i)), stable_hash64(subject)) << i;
  }
}

TEST(KeyGroupsTest, SimilarSubjectsSpreadOverTheGroups) {
  // Plates that differ in one digit must not bunch up: 409,600 of them over
  // 4096 groups, 100 expected per group.
  std::vector<std::uint32_t> per_group(kKeyGroups, 0);
  constexpr std::uint32_t kSubjects = 100 * kKeyGroups;
  for (std::uint32_t i = 0; i < kSubjects; ++i) {
    const std::uint32_t group = key_group_of(stable_hash64("plate:NY:" + std::to_string(i)));
    ASSERT_LT(group, kKeyGroups);
    ++per_group[group];
  }
  const auto [least, most] = std::minmax_element(per_group.begin(), per_group.end());
  EXPECT_GT(*least, 50u);
  EXPECT_LT(*most, 160u);
  double chi_square = 0;
  for (std::uint32_t count : per_group) chi_square += (count - 100.0) * (count - 100.0) / 100.0;
  // 4095 degrees of freedom: mean 4095, standard deviation about 90.
  EXPECT_LT(chi_square, 4095 + 6 * 90);
}

TEST(KeyGroupsTest, RangesAreContiguousAndBalanced) {
  for (std::uint32_t workers : {1u, 2u, 3u, 7u, 64u, 1000u, 4095u, 4096u}) {
    const KeyGroupMap map(workers);
    EXPECT_EQ(map.groups_per_worker(workers + 1).back(), 0u);
    std::vector<std::uint32_t> owned(workers, 0);
    EXPECT_EQ(map.worker_of_group(0), 0u);
    EXPECT_EQ(map.worker_of_group(kKeyGroups - 1), workers - 1);
    for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
      const std::uint32_t owner = map.worker_of_group(group);
      ASSERT_LT(owner, workers);
      if (group > 0) {
        // Contiguous: each group goes to the same worker as the one before,
        // or to the next worker. So every worker owns exactly one range.
        const std::uint32_t previous = map.worker_of_group(group - 1);
        ASSERT_TRUE(owner == previous || owner == previous + 1) << workers << " workers, " << group;
      }
      ++owned[owner];
    }
    const auto [least, most] = std::minmax_element(owned.begin(), owned.end());
    EXPECT_GE(*least, 1u) << workers << " workers";
    EXPECT_LE(*most - *least, 1u) << workers << " workers";
  }
}

TEST(KeyGroupsTest, RoutesBySubjectHashThroughItsGroup) {
  for (std::uint32_t workers : {1u, 3u, 7u}) {
    const KeyGroupMap map(workers);
    for (int i = 0; i < 1000; ++i) {
      const std::uint64_t hash = stable_hash64("person:" + std::to_string(i));
      EXPECT_EQ(map.worker_of(hash), map.worker_of_group(key_group_of(hash)));
    }
  }
  // A subject's group never depends on the worker count; one worker owns all.
  const KeyGroupMap one(1);
  EXPECT_EQ(one.worker_of(stable_hash64("plate:NY:ABC1234")), 0u);
}

TEST(KeyGroupsTest, RefusesWorkerCountsThatCannotOwnAGroupEach) {
  EXPECT_THROW(KeyGroupMap(0), std::invalid_argument);
  EXPECT_THROW(KeyGroupMap(kKeyGroups + 1), std::invalid_argument);
  EXPECT_THROW(KeyGroupMap{std::numeric_limits<std::uint32_t>::max()}, std::invalid_argument);
  EXPECT_NO_THROW(KeyGroupMap{kKeyGroups});
}

}  // namespace
}  // namespace tally
