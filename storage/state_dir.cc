#include "storage/state_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

namespace tally::storage {
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

// The worker count recorded in a marker; 0 if it has no `workers = N` line.
Result<std::uint32_t> marker_workers(Env* env, const std::string& path) {
  auto file = env->read_file(path);
  if (!file.is_ok()) return file.status();
  const std::string_view text = (*file)->bytes();
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line(text.substr(start, end - start));
    unsigned workers = 0;
    if (std::sscanf(line.c_str(), "workers = %u", &workers) == 1) return workers;
    start = end + 1;
  }
  return 0u;
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

Result<StateFiles> scan_state_dir(Env* env, const std::string& dir) {
  StateFiles files;
  files.dir = dir;
  std::map<std::uint64_t, std::set<std::uint32_t>> snapshot_parts;
  std::map<std::uint64_t, std::string> markers;  // generation -> path
  std::vector<std::pair<ParsedName, std::string>> all;
  std::uint64_t highest = 0;
  auto names = env->list_dir(dir);
  if (!names.is_ok()) return names.status();
  for (const std::string& name : *names) {
    const ParsedName parsed = parse_name(name);
    if (parsed.kind == FileKind::kOther) continue;  // rejected.ndjson, LOCK, ...
    const std::string path = (fs::path(dir) / name).string();
    if (parsed.kind == FileKind::kTemporary) {
      files.obsolete.push_back(path);
      continue;
    }
    highest = std::max(highest, parsed.generation);
    if (parsed.kind == FileKind::kSnapshot) snapshot_parts[parsed.generation].insert(parsed.worker);
    if (parsed.kind == FileKind::kMarker) markers[parsed.generation] = path;
    all.emplace_back(parsed, path);
  }
  files.next_generation = highest + 1;

  // The newest marker wins; its parts must all be there.
  if (!markers.empty()) {
    const auto& [generation, marker] = *markers.rbegin();
    auto workers = marker_workers(env, marker);
    if (!workers.is_ok()) return workers.status();
    if (*workers == 0) {
      return Status::corruption(
          fmt::format("{}: unreadable snapshot marker (no `workers = N` line)", marker));
    }
    for (std::uint32_t worker = 0; worker < *workers; ++worker) {
      if (snapshot_parts[generation].count(worker) == 0) {
        return Status::corruption(fmt::format(
            "{}: snapshot {} is marked complete but its part {} is missing; restore the file "
            "or move the marker away to recover from the journals alone",
            marker, generation, snapshot_file_name(generation, worker)));
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

Status complete_snapshot(Env* env, const std::string& dir, std::uint64_t generation,
                         std::uint32_t workers) {
  const std::string final_path = (fs::path(dir) / snapshot_marker_name(generation)).string();
  const std::string text =
      fmt::format("# Tally snapshot {} is complete.\nworkers = {}\n", generation, workers);
  // The parts were renamed into place by their workers; their names must be
  // durable before a marker names them.
  Status status = env->sync_dir(dir);
  if (status.is_ok()) status = write_file_atomically(env, dir, final_path, text);
  if (!status.is_ok()) return status.with_context(final_path + ": cannot write snapshot marker");
  // Everything the new snapshot covers can go. A failed delete only costs
  // disk: the next scan sees the files as obsolete and the next snapshot
  // retries.
  if (auto files = scan_state_dir(env, dir); files.is_ok()) {
    for (const std::string& path : files->obsolete) (void)env->remove(path);
  }
  (void)env->sync_dir(dir);
  return Status::ok();
}

Result<DirLock> DirLock::acquire(Env* env, const std::string& dir) {
  auto lock = env->lock_file((fs::path(dir) / "LOCK").string());
  if (lock.is_ok()) return DirLock(std::move(*lock));
  if (lock.status().code() != Status::Code::kBusy) return lock.status();
  return Status::busy(std::string(lock.status().message()) +
                      ": the data directory is in use by another tallyd; two daemons must not "
                      "share a journal");
}

}  // namespace tally::storage
