#include "tests/support/files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

namespace tally::testing {

std::filesystem::path source_tree() { return TALLY_SOURCE_DIR; }

std::string program_path(std::string_view name) {
  return std::string(TALLY_BINARY_DIR) + "/apps/" + std::string(name);
}
std::string tallyd_path() { return program_path("tallyd"); }
std::string tally_path() { return program_path("tally"); }

std::filesystem::path make_temp_dir(const std::string& name) {
  std::random_device random;
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("tally-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  return dir;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tally::testing
