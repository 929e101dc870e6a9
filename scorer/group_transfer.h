// Key groups on their way from one shard worker to another during a live
// worker-count change (core/route_wave.h has the whole protocol).
//
// The giving worker fills a GroupTransfer on its own thread (the groups'
// subjects, removed from its table) and posts it to the receiver's inbox;
// the receiver installs it on its thread, applies the events it held back
// for those groups, and marks it installed. The rescaler owns the object
// throughout and waits for `installed`.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace tally::scorer {

struct GroupTransfer {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::vector<std::uint16_t> groups;
  std::string blobs;  // the subjects' blobs, back to back (SubjectTable::extract_groups)
  std::uint64_t subjects = 0;
  // How far the giver's expiry sweep had looked (rules' clock): the receiver
  // sweeps the arrivals over what it has looked at beyond that, so no
  // expiry alert is lost in the move.
  std::int64_t swept_until_ms = 0;
  // Set by the receiver: steady-clock ns when installed, then the flag.
  std::int64_t installed_ns = 0;
  std::atomic<bool> installed{false};
};

}  // namespace tally::scorer
