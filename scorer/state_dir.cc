#include "scorer/state_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace tally::scorer {
namespace {

namespace fs = std::filesystem;

enum class FileKind { kJournal, kSnapshot, kMarker, kTemporary, kOther };

struct ParsedName {
  FileKind kind = FileKind::kOther;
  std::uint64_t generation = 0;
  std::uint32_t worker = 0;
};

ParsedName parse_name(const std::string& name) {
  ParsedName parsed;
  unsigned long long generation = 0;
  unsigned worker = 0;
  unsigned segment = 0;
  int consumed = 0;
  if (name.size() > 4 && name.ends_with(".tmp")) {
    parsed.kind = FileKind::kTemporary;
  } else if (std::sscanf(name.c_str(), "journal-%8llu-w%4u-%6u.tj%n", &generation, &worker,
                         &segment, &consumed) == 3 &&
             static_cast<std::size_t>(consumed) == name.size()) {
    parsed = {FileKind::kJournal, generation, worker};
  } else if (std::sscanf(name.c_str(), "snapshot-%8llu-w%4u.ts%n", &generation, &worker,
                         &consumed) == 2 &&
             static_cast<std::size_t>(consumed) == name.size()) {
    parsed = {FileKind::kSnapshot, generation, worker};
  } else if (std::sscanf(name.c_str(), "snapshot-%8llu.done%n", &generation, &consumed) == 1 &&
             static_cast<std::size_t>(consumed) == name.size()) {
    parsed = {FileKind::kMarker, generation, 0};
  }
  return parsed;
}

// The worker count recorded in a marker; 0 if unreadable.
std::uint32_t marker_workers(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    unsigned workers = 0;
    if (std::sscanf(line.c_str(), "workers = %u", &workers) == 1) return workers;
  }
  return 0;
}

}  // namespace

std::string journal_file_name(std::uint64_t generation, std::uint32_t worker,
                              std::uint32_t segment) {
  return fmt::format("journal-{:08}-w{:04}-{:06}.tj", generation, worker, segment);
}

std::string snapshot_file_name(std::uint64_t generation, std::uint32_t worker) {
  return fmt::format("snapshot-{:08}-w{:04}.ts", generation, worker);
}

std::string snapshot_marker_name(std::uint64_t generation) {
  return fmt::format("snapshot-{:08}.done", generation);
}

StateFiles scan_state_dir(const std::string& dir) {
  StateFiles files;
  files.dir = dir;
  std::map<std::uint64_t, std::set<std::uint32_t>> snapshot_parts;
  std::map<std::uint64_t, std::uint32_t> markers;  // generation -> workers
  std::vector<std::pair<ParsedName, std::string>> all;
  std::uint64_t highest = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const ParsedName parsed = parse_name(name);
    if (parsed.kind == FileKind::kOther) continue;  // rejected.ndjson, LOCK, ...
    if (parsed.kind == FileKind::kTemporary) {
      files.obsolete.push_back(entry.path().string());
      continue;
    }
    highest = std::max(highest, parsed.generation);
    if (parsed.kind == FileKind::kSnapshot) snapshot_parts[parsed.generation].insert(parsed.worker);
    if (parsed.kind == FileKind::kMarker) {
      markers[parsed.generation] = marker_workers(entry.path());
    }
    all.emplace_back(parsed, entry.path().string());
  }
  files.next_generation = highest + 1;

  // The newest marker wins; its parts must all be there.
  if (!markers.empty()) {
    const auto& [generation, workers] = *markers.rbegin();
    const fs::path marker = fs::path(dir) / snapshot_marker_name(generation);
    if (workers == 0) {
      throw StateError(
          fmt::format("{}: unreadable snapshot marker (no `workers = N` line)", marker.string()));
    }
    for (std::uint32_t worker = 0; worker < workers; ++worker) {
      if (snapshot_parts[generation].count(worker) == 0) {
        throw StateError(fmt::format(
            "{}: snapshot {} is marked complete but its part {} is missing; restore the file "
            "or move the marker away to recover from the journals alone",
            marker.string(), generation, snapshot_file_name(generation, worker)));
      }
    }
    files.snapshot_generation = generation;
  }

  const std::uint64_t floor = files.snapshot_generation.value_or(0);
  for (const auto& [parsed, path] : all) {
    const bool current = parsed.generation == floor && files.snapshot_generation.has_value();
    switch (parsed.kind) {
      case FileKind::kJournal:
        (parsed.generation >= floor ? files.journals : files.obsolete).push_back(path);
        break;
      case FileKind::kSnapshot:
        (current ? files.snapshots : files.obsolete).push_back(path);
        break;
      case FileKind::kMarker:
        if (!current) files.obsolete.push_back(path);
        break;
      default:
        break;
    }
  }
  std::sort(files.snapshots.begin(), files.snapshots.end());
  std::sort(files.journals.begin(), files.journals.end());
  std::sort(files.obsolete.begin(), files.obsolete.end());
  return files;
}

int fsync_dir(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

void complete_snapshot(const std::string& dir, std::uint64_t generation, std::uint32_t workers) {
  const fs::path final_path = fs::path(dir) / snapshot_marker_name(generation);
  const std::string temporary = final_path.string() + ".tmp";
  const std::string text =
      fmt::format("# Tally snapshot {} is complete.\nworkers = {}\n", generation, workers);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  const int error = errno;
  if (fd >= 0) ::close(fd);
  ok = ok && std::rename(temporary.c_str(), final_path.string().c_str()) == 0;
  if (!ok || fsync_dir(dir) != 0) {
    throw StateError(
        fmt::format("{}: cannot write snapshot marker: {}", final_path.string(), strerror(error)));
  }
  // Everything the new snapshot covers can go. A failed delete only costs
  // disk: the next start sees the files as obsolete and retries.
  for (const std::string& path : scan_state_dir(dir).obsolete) {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
  (void)fsync_dir(dir);
}

DirLock::DirLock(const std::string& dir) {
  const std::string path = (fs::path(dir) / "LOCK").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StateError(fmt::format("{}: cannot open: {}", path, strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    (void)::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string pid(holder);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw StateError(fmt::format(
        "{}: the data directory is in use by another tallyd (pid {}); two daemons must not "
        "share a journal",
        path, pid.empty() ? "unknown" : pid));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  (void)::ftruncate(fd_, 0);
  (void)::pwrite(fd_, pid.data(), pid.size(), 0);
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace tally::scorer
