// Which key groups move in a worker-count change, and where.
//
// The plan spreads the kKeyGroups groups over the new workers as evenly as
// possible (counts differ by at most one) while moving as few groups as
// that allows: a worker keeps what it owns up to its share, the groups of
// removed workers and every surplus move, and the extra one-group shares go
// to the workers that already hold the most. Moves are ordered round-robin
// over the giving workers, so every wave of a change keeps all of them
// busy at once instead of one after the other.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <vector>

#include "core/route_wave.h"

namespace tally::scorer {

// `owners`: every group's owner now (kKeyGroups entries); `workers`: the
// count after (1..kKeyGroups).
std::vector<GroupMove> plan_rescale(const std::vector<std::uint32_t>& owners,
                                    std::uint32_t workers);

}  // namespace tally::scorer
