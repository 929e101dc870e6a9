// The lines of the files `tally send` publishes, whatever it publishes to.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tally::cli {

// Feeds each line of `files` ("-" is standard input), in order, to `take`,
// until it returns false (the publisher gave up). `opened` (if set) is told
// each file's name before its first line. Returns kExitDone, or
// kExitNoAnswer after printing which file could not be read and why.
int feed_lines(const std::vector<std::string>& files,
               const std::function<bool(std::string_view line)>& take,
               const std::function<void(const std::string& name)>& opened = {});

}  // namespace tally::cli
