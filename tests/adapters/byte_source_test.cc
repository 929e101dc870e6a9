// Byte sources: gzip read transparently (and truncated gzip reported), and a
// followed file across appends, rotation and truncation, like tail -F.
#include "adapters/byte_source.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "adapters/line_reader.h"
#include "tests/support/files.h"

namespace tally::adapters {
namespace {

namespace fs = std::filesystem;

class ByteSourceTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  tally::testing::TempDir scratch_{"byte-source"};
  fs::path dir_ = scratch_.path();
};

void write_gzip(const std::string& path, const std::string& text) {
  gzFile file = ::gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(::gzwrite(file, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ::gzclose(file);
}

std::vector<std::string> all_lines(ByteSource& source) {
  LineReader reader(source, 16);
  std::vector<std::string> lines;
  while (const auto line = reader.next()) lines.emplace_back(*line);
  EXPECT_EQ(reader.error_text(), "");
  return lines;
}

TEST_F(ByteSourceTest, ReadsGzipAndPlainFilesAlike) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  write_gzip(path("a.csv.gz"), text);
  std::ofstream(path("a.csv")) << text;
  for (const char* name : {"a.csv.gz", "a.csv"}) {
    auto source = open_input(path(name));
    ASSERT_TRUE(source) << source.status().to_string();
    const auto lines = all_lines(**source);
    ASSERT_EQ(lines.size(), 5000u) << name;
    EXPECT_EQ(lines.back(), "line 4999");
    EXPECT_EQ((*source)->consumed(), (*source)->total()) << name;
  }
}

TEST_F(ByteSourceTest, ATruncatedGzipFileIsAnErrorNotASilentEnd) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "record " + std::to_string(i * 7919) + "\n";
  write_gzip(path("cut.gz"), text);
  fs::resize_file(path("cut.gz"), fs::file_size(path("cut.gz")) / 2);
  auto source = open_input(path("cut.gz"));
  ASSERT_TRUE(source);
  LineReader reader(**source);
  while (reader.next()) {
  }
  EXPECT_NE(reader.error_text().find("gzip"), std::string::npos) << reader.error_text();
}

TEST_F(ByteSourceTest, MissingFilesAndDirectoriesAreClearErrors) {
  const auto absent = open_input(path("absent.csv"));
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.status().code(), Status::Code::kIoError);
  EXPECT_NE(absent.status().message().find("absent.csv"), std::string::npos)
      << absent.status().to_string();
  const auto directory = open_input(dir_.string());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.status().message().find("is a directory"), std::string::npos)
      << directory.status().to_string();
}

// Reads what is there now from a followed source (until it goes idle).
std::vector<std::string> drain(LineReader& reader) {
  std::vector<std::string> lines;
  for (int idle = 0; idle < 3;) {
    if (const auto line = reader.next()) {
      lines.emplace_back(*line);
    } else {
      EXPECT_TRUE(reader.idle()) << reader.error_text();
      ++idle;
    }
  }
  return lines;
}

TEST_F(ByteSourceTest, FollowSeesAppendsRotationAndTruncation) {
  const std::string live = path("live.csv");
  auto source = follow_input(live);
  LineReader reader(*source, 16);
  EXPECT_TRUE(drain(reader).empty());  // not there yet: waits

  std::ofstream(live) << "a\nb\npart";
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"a", "b"}));  // "part" waits for its \n
  std::ofstream(live, std::ios::app) << "ial\nc\n";
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"partial", "c"}));

  // Rotation: the old file gets a last line, is renamed, a new one appears.
  std::ofstream(live, std::ios::app) << "d\n";
  fs::rename(live, path("live.csv.1"));
  std::ofstream(live) << "e-longer\n";
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"d", "e-longer"}));

  // Truncation (to less than was read): read again from the start.
  std::ofstream(live, std::ios::trunc) << "f\n";
  EXPECT_EQ(drain(reader), (std::vector<std::string>{"f"}));
}

TEST_F(ByteSourceTest, FollowRefusesGzip) {
  write_gzip(path("z.gz"), "a\n");
  auto source = follow_input(path("z.gz"));
  LineReader reader(*source);
  EXPECT_FALSE(reader.next());
  EXPECT_NE(reader.error_text().find("gzip"), std::string::npos) << reader.error_text();
}

}  // namespace
}  // namespace tally::adapters
