#include "daemon/rules_watcher.h"

namespace tally::daemon {

RulesWatcher::RulesWatcher(std::string path, std::chrono::milliseconds look_every)
    : path_(std::move(path)), look_every_(look_every), seen_(stamp()), next_look_(Clock::now()) {}

bool RulesWatcher::changed(Clock::time_point now) {
  if (now < next_look_) return false;
  next_look_ = now + look_every_;
  const Stamp current = stamp();
  if (current == seen_) return false;
  seen_ = current;
  return true;
}

RulesWatcher::Stamp RulesWatcher::stamp() const {
  // A file that cannot be read has the empty stamp: its return is a change.
  std::error_code error;
  Stamp result;
  result.modified = std::filesystem::last_write_time(path_, error);
  if (error) return {};
  result.size = std::filesystem::file_size(path_, error);
  if (error) return {};
  return result;
}

}  // namespace tally::daemon
