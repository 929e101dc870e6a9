// What an adapter run shows while it works, on stderr: a bar redrawn in place
// on a terminal, or a log line every interval otherwise (or nothing).
//
//   tally-camera: 1,234,000 records  612,345/s  [#########...............]  38%  ETA 0:03  sent
//   1,233,000  acknowledged 1,232,000
//
// The percentage and ETA come from the input bytes read (when the size is
// known); "sent" and "acknowledged" are events, from the publisher (absent
// for a dry run). A live feed's operator reads from the last two whether
// tallyd keeps up.
//
// Thread-safety: none; one meter per run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "client/publisher.h"

namespace tally::adapters {

enum class ProgressMode {
  kAuto,  // a bar when stderr is a terminal, else log lines
  kBar,   // a bar redrawn in place on stderr
  kLog,   // a line on stderr every interval
  kOff,
};

// 1234567 -> "1,234,567".
std::string thousands(std::uint64_t value);

struct ProgressCounts {
  std::uint64_t records = 0;
  std::uint64_t done_bytes = 0;
  std::uint64_t total_bytes = 0;                      // 0: unknown
  const client::PublishSummary* published = nullptr;  // null: nothing is sent
};

class ProgressMeter {
 public:
  ProgressMeter(std::string program, ProgressMode mode, std::chrono::milliseconds interval);

  // Called per record; cheap unless it is time to show something.
  void update(const ProgressCounts& counts) {
    if (mode_ == ProgressMode::kOff || (++calls_ & 255) != 0) return;
    show(counts, false);
  }
  // Shows the counts if the interval has passed (or `force`: the last line).
  void show(const ProgressCounts& counts, bool force);
  // Clears the bar before other output.
  void clear();

 private:
  using Clock = std::chrono::steady_clock;

  std::string program_;
  ProgressMode mode_;
  std::chrono::milliseconds interval_;
  Clock::time_point started_, last_;
  std::uint64_t calls_ = 0;
  bool drawn_ = false;
  bool shown_ = false;  // a line was shown: a final one closes it
};

}  // namespace tally::adapters
