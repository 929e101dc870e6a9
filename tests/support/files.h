// Where the tests find the tree and the built programs, and the few file
// operations they share.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tally::testing {

std::filesystem::path source_tree();  // the checkout (TALLY_SOURCE_DIR)
// A built program of apps/ ("tallyd", "tally", "tally-camera", ...).
std::string program_path(std::string_view name);
std::string tallyd_path();
std::string tally_path();

// A new, empty, uniquely named directory under the system's temp directory.
std::filesystem::path make_temp_dir(const std::string& name);

// A temporary directory removed (with everything in it) when it goes.
class TempDir {
 public:
  explicit TempDir(const std::string& name) : path_(make_temp_dir(name)) {}
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Replaces the file's content. Fails the test if it cannot.
void write_file(const std::filesystem::path& path, std::string_view text);
// The whole file; empty if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace tally::testing
