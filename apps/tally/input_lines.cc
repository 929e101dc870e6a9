#include "apps/tally/input_lines.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "adapters/line_reader.h"
#include "apps/tally/client_options.h"

namespace tally::cli {

int feed_lines(const std::vector<std::string>& files,
               const std::function<bool(std::string_view line)>& take,
               const std::function<void(const std::string& name)>& opened) {
  for (const std::string& name : files) {
    const int fd = name == "-" ? STDIN_FILENO : ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "tally: cannot read %s: %s\n", name.c_str(), std::strerror(errno));
      return kExitNoAnswer;
    }
    if (opened) opened(name);
    adapters::LineReader reader(fd);
    bool taking = true;
    while (const auto line = reader.next()) {
      if (!take(*line)) {
        taking = false;
        break;
      }
    }
    const int error = reader.error();
    if (fd != STDIN_FILENO) ::close(fd);
    if (error != 0) {
      std::fprintf(stderr, "tally: cannot read %s: %s\n", name.c_str(), std::strerror(error));
      return kExitNoAnswer;
    }
    if (!taking) break;
  }
  return kExitDone;
}

}  // namespace tally::cli
