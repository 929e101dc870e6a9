// --watch-rules: notices that the rules file changed, so that the control
// loop reloads it as SIGHUP would.
//
// A change is a different modification time or size, looked at no more than
// once per `look_every` (default 1 s): a stat(2) a second costs nothing,
// and an operator's edit is picked up within the second. An editor's
// half-written file is refused by the reload like any broken file (the
// running rules stay), and its next change is seen and retried.
//
// Owns no thread: the control thread calls changed() on each turn of its
// loop. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace tally::daemon {

class RulesWatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Remembers the file as it is now.
  explicit RulesWatcher(std::string path,
                        std::chrono::milliseconds look_every = std::chrono::seconds(1));

  // True once for each change seen. Looks at the file only when `now` is at
  // or past the next look; otherwise answers false at once.
  bool changed(Clock::time_point now);

 private:
  struct Stamp {
    std::filesystem::file_time_type modified{};
    std::uintmax_t size = 0;
    bool operator==(const Stamp& other) const = default;
  };
  Stamp stamp() const;

  std::string path_;
  std::chrono::milliseconds look_every_;
  Stamp seen_;
  Clock::time_point next_look_;
};

}  // namespace tally::daemon
