#include "adapters/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace tally::adapters {
namespace {

std::vector<std::string> read_all(const std::string& text, std::size_t chunk) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    // A byte at a time: every line straddles reads.
    for (char c : text) EXPECT_EQ(::write(fds[1], &c, 1), 1);
    ::close(fds[1]);
  });
  LineReader reader(fds[0], chunk);
  std::vector<std::string> lines;
  while (const auto line = reader.next()) lines.emplace_back(*line);
  EXPECT_EQ(reader.error(), 0);
  writer.join();
  ::close(fds[0]);
  return lines;
}

TEST(LineReaderTest, SplitsOnNewlinesAcrossReadsAndGrowsForLongLines) {
  const std::string long_line(100, 'x');
  const std::vector<std::string> expected = {"{\"a\":1}", "", "crlf\r", long_line, "last"};
  EXPECT_EQ(read_all("{\"a\":1}\n\ncrlf\r\n" + long_line + "\nlast", 8), expected);
  EXPECT_EQ(read_all("one\ntwo\n", 1 << 20), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(read_all("", 8).empty());
}

}  // namespace
}  // namespace tally::adapters
