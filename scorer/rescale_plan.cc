#include "scorer/rescale_plan.h"

#include <algorithm>
#include <numeric>

namespace tally::scorer {

std::vector<GroupMove> plan_rescale(const std::vector<std::uint32_t>& owners,
                                    std::uint32_t workers) {
  std::vector<std::uint32_t> have(workers, 0);
  for (const std::uint32_t owner : owners) {
    if (owner < workers) ++have[owner];
  }
  // Shares: kKeyGroups / workers each, one more for the `extra` workers
  // holding the most now (fewest moves).
  std::vector<std::uint32_t> share(workers, kKeyGroups / workers);
  const std::uint32_t extra = kKeyGroups % workers;
  std::vector<std::uint32_t> by_size(workers);
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return have[a] > have[b]; });
  for (std::uint32_t i = 0; i < extra; ++i) ++share[by_size[i]];

  // Keep up to the share; everything else leaves.
  std::vector<std::uint32_t> kept(workers, 0);
  std::vector<std::vector<std::uint32_t>> leaving_by_giver;
  std::vector<std::uint32_t> givers;
  for (std::uint32_t group = 0; group < owners.size(); ++group) {
    const std::uint32_t owner = owners[group];
    if (owner < workers && kept[owner] < share[owner]) {
      ++kept[owner];
      continue;
    }
    if (owner >= leaving_by_giver.size()) leaving_by_giver.resize(owner + 1);
    if (leaving_by_giver[owner].empty()) givers.push_back(owner);
    leaving_by_giver[owner].push_back(group);
  }
  // Round-robin over the givers; each group to the next worker short of
  // its share.
  std::vector<GroupMove> moves;
  std::uint32_t receiver = 0;
  std::vector<std::size_t> next(leaving_by_giver.size(), 0);
  for (bool any = true; any;) {
    any = false;
    for (const std::uint32_t giver : givers) {
      std::vector<std::uint32_t>& groups = leaving_by_giver[giver];
      if (next[giver] == groups.size()) continue;
      any = true;
      while (kept[receiver] == share[receiver]) ++receiver;
      ++kept[receiver];
      moves.push_back({static_cast<std::uint16_t>(groups[next[giver]++]),
                       static_cast<std::uint16_t>(giver), static_cast<std::uint16_t>(receiver)});
    }
  }
  return moves;
}

}  // namespace tally::scorer
