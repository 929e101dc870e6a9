// --watch-rules: a change of the file (size or modification time) is seen
// once, at the next look, and looks are spaced as configured. Time is passed
// in, so nothing here sleeps.
#include "daemon/rules_watcher.h"

#include <gtest/gtest.h>

#include "tests/support/files.h"

namespace tally::daemon {
namespace {

using namespace std::chrono_literals;
using tally::testing::TempDir;
using tally::testing::write_file;

class RulesWatcherTest : public ::testing::Test {
 protected:
  TempDir dir_{"watch"};
  std::string path_ = (dir_ / "rules.toml").string();
  RulesWatcher::Clock::time_point start_ = RulesWatcher::Clock::now();
};

TEST_F(RulesWatcherTest, AnUnchangedFileIsNeverAChange) {
  write_file(path_, "[rules.a]\npoints = 1\n");
  RulesWatcher watcher(path_, 1s);
  for (int second = 0; second < 5; ++second) EXPECT_FALSE(watcher.changed(start_ + second * 1s));
}

TEST_F(RulesWatcherTest, ANewSizeIsSeenAtTheNextLookAndOnlyOnce) {
  write_file(path_, "[rules.a]\npoints = 1\n");
  RulesWatcher watcher(path_, 1s);
  EXPECT_FALSE(watcher.changed(start_ + 1s));
  write_file(path_, "[rules.a]\npoints = 10\n");
  EXPECT_FALSE(watcher.changed(start_ + 1500ms)) << "looked before the next look was due";
  EXPECT_TRUE(watcher.changed(start_ + 2s));
  EXPECT_FALSE(watcher.changed(start_ + 3s));
}

TEST_F(RulesWatcherTest, ANewModificationTimeAloneIsAChange) {
  write_file(path_, "[rules.a]\npoints = 1\n");
  RulesWatcher watcher(path_, 1s);
  // Same size, same text: an editor's save, or a coarse clock's same second.
  std::filesystem::last_write_time(path_, std::filesystem::last_write_time(path_) + 5s);
  EXPECT_TRUE(watcher.changed(start_ + 1s));
}

TEST_F(RulesWatcherTest, AFileThatGoesAndComesBackIsSeenBothTimes) {
  write_file(path_, "[rules.a]\npoints = 1\n");
  RulesWatcher watcher(path_, 1s);
  std::filesystem::remove(path_);
  EXPECT_TRUE(watcher.changed(start_ + 1s));  // the reload will refuse it; the rules stay
  write_file(path_, "[rules.a]\npoints = 2\n");
  EXPECT_TRUE(watcher.changed(start_ + 2s));
}

}  // namespace
}  // namespace tally::daemon
