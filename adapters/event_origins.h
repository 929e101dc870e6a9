// Where each published event came from (input, line), kept as runs of
// consecutive lines of one input rather than one entry per event, so that
// tallyd's rejects (which name the publisher's input line, the count of
// events added) can be traced back to their records at the end of a run.
//
// Cost: one entry per run of consecutive lines, so a file read straight
// through is one entry, whatever its size.
//
// Thread-safety: none; one per run.
#pragma once

#include <cstdint>
#include <vector>

namespace tally::adapters {

class EventOrigins {
 public:
  struct Origin {
    std::uint32_t input = 0;  // index into the run's inputs
    std::uint64_t line = 0;   // the record's line (or JSON array element)
    bool element = false;     // `line` is a JSON array element's index
  };

  // The next event (the publisher's next input line) came from here.
  void note(const Origin& origin);
  // Where the `event`-th event noted (from 1) came from; false if never noted.
  bool find(std::uint64_t event, Origin& origin) const;

 private:
  struct Run {
    std::uint64_t first_event;  // the run's first event (from 1)
    Origin origin;              // of that first event
  };
  std::vector<Run> runs_;
  std::uint64_t events_ = 0;
};

}  // namespace tally::adapters
