// What the storage tests share: a scratch directory per test, whole-file
// reads and writes that bypass the Env (to look at or damage what it left),
// and sample records.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "storage/env.h"
#include "storage/journal_format.h"
#include "storage/recovery.h"
#include "storage/state_dir.h"
#include "tests/support/files.h"

namespace tally::storage::testing {

namespace fs = std::filesystem;

// A fresh directory, removed with its contents when the object dies, with
// the string forms the storage API takes.
class ScratchDir : public tally::testing::TempDir {
 public:
  explicit ScratchDir(const std::string& name) : TempDir("storage-" + name) {}
  std::string str() const { return path().string(); }
  std::string file(const std::string& name) const { return (path() / name).string(); }
};

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// An event record with every field set; views into static or caller storage.
inline journal::Record sample_record(std::string_view id, std::string_view subject) {
  journal::Record record;
  record.kind = journal::RecordKind::kEvent;
  record.time_ms = 1'700'000'000'000;
  record.points = -7;
  record.expires_after_ms = 86'400'000;
  record.rules_version = 3;
  record.id = id;
  record.subject = subject;
  record.type = "speeding_11_20";
  record.source = "camera-12";
  return record;
}

// The ids of the records recovery reads from `dir`, in reading order (it
// cuts torn tails, as it would at a start); why not, when it refuses.
inline Result<std::vector<std::string>> recovered_ids(Env* env, const std::string& dir,
                                                      RecoveryReport* report = nullptr) {
  auto files = scan_state_dir(env, dir);
  if (!files.is_ok()) return files.status();
  std::vector<std::string> ids;
  auto read = read_state(env, *files,
                         [&ids](const journal::Record& record) { ids.emplace_back(record.id); });
  if (!read.is_ok()) return read.status();
  if (report != nullptr) *report = std::move(*read);
  return ids;
}

}  // namespace tally::storage::testing
