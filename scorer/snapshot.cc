#include "scorer/snapshot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "scorer/rules.h"

namespace tally::scorer {
namespace {

// Streams records to a file in large writes.
class FileSink {
 public:
  explicit FileSink(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {
    if (fd_ < 0) error_ = errno;
    buffer_.reserve(kFlushBytes + journal::kMaxPayloadBytes);
  }
  ~FileSink() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string& buffer() noexcept { return buffer_; }
  void maybe_flush() {
    if (buffer_.size() >= kFlushBytes) flush();
  }
  void flush() {
    std::size_t done = 0;
    while (error_ == 0 && done < buffer_.size()) {
      const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error_ = errno;
      if (n > 0) done += static_cast<std::size_t>(n);
    }
    bytes_ += done;
    buffer_.clear();
  }
  // Flushes, syncs and closes; returns 0 or the first errno met.
  int finish() {
    flush();
    if (error_ == 0 && ::fdatasync(fd_) != 0) error_ = errno;
    if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    return error_;
  }
  std::uint64_t bytes() const noexcept { return bytes_; }

 private:
  static constexpr std::size_t kFlushBytes = 1 << 20;
  int fd_;
  int error_ = 0;
  std::string buffer_;
  std::uint64_t bytes_ = 0;
};

// A read-only view of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw StateError(fmt::format("{}: cannot open: {}", path, strerror(errno)));
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      ::close(fd);
      throw StateError(fmt::format("{}: cannot stat: {}", path, strerror(errno)));
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ > 0) {
      void* at = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (at == MAP_FAILED) {
        ::close(fd);
        throw StateError(fmt::format("{}: cannot map: {}", path, strerror(errno)));
      }
      ::madvise(at, size_, MADV_SEQUENTIAL);
      data_ = static_cast<const char*>(at);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const noexcept { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// True when some offset after `from` starts a good record: then the bad
// record at `from` is damage in the middle, not a torn tail.
bool good_record_after(std::string_view data, std::size_t from) {
  journal::Record record;
  for (std::size_t at = from + 1; at + journal::kRecordHeaderBytes <= data.size(); ++at) {
    std::size_t offset = at;
    if (journal::read_record(data, offset, record) == journal::ReadStatus::kOk) return true;
  }
  return false;
}

void note_record(const journal::Record& record, RecoveryReport& report) {
  report.max_time_ms = std::max(report.max_time_ms, record.time_ms);
  report.max_rules_version = std::max(report.max_rules_version, record.rules_version);
}

void read_snapshot_part(const std::string& path, RecoveryReport& report,
                        const std::function<void(const journal::Record&)>& sink) {
  const MappedFile file(path);
  const std::string_view data = file.bytes();
  std::string header_error;
  if (!journal::check_file_header(data, journal::kSnapshotMagic, header_error)) {
    throw StateError(fmt::format("{}: offset 0: {}", path, header_error));
  }
  std::size_t offset = journal::kFileHeaderBytes;
  std::uint64_t records = 0;
  journal::Record record;
  while (true) {
    const std::size_t at = offset;
    const journal::ReadStatus status = journal::read_record(data, offset, record);
    if (status != journal::ReadStatus::kOk) {
      throw StateError(fmt::format(
          "{}: offset {}: {}; a snapshot part is written whole or not at all, so this is "
          "damage: restore it from a backup, or move the snapshot's .done marker away to "
          "recover from the journals alone (if they still reach back far enough)",
          path, at,
          status == journal::ReadStatus::kEndOfData ? "no end record (file cut short)"
                                                    : journal::to_string(status)));
    }
    if (record.kind == journal::RecordKind::kEnd) {
      if (record.end_count != records || offset != data.size()) {
        throw StateError(fmt::format("{}: offset {}: end record says {} records, {} read{}", path,
                                     at, record.end_count, records,
                                     offset != data.size() ? ", and bytes follow it" : ""));
      }
      break;
    }
    note_record(record, report);
    sink(record);
    ++records;
  }
  report.snapshot_records += records;
  report.bytes += data.size();
  ++report.files;
}

void read_journal(const std::string& path, RecoveryReport& report,
                  const std::function<void(const journal::Record&)>& sink) {
  std::size_t cut_at = 0;
  std::string why;
  std::uint64_t file_size = 0;
  {
    const MappedFile file(path);
    const std::string_view data = file.bytes();
    file_size = data.size();
    std::string header_error;
    if (data.size() < journal::kFileHeaderBytes) {
      // Created, then the crash came before its header reached the disk.
      cut_at = 0;
      why = "no complete header";
    } else if (!journal::check_file_header(data, journal::kJournalMagic, header_error)) {
      throw StateError(fmt::format("{}: offset 0: {}", path, header_error));
    } else {
      std::size_t offset = journal::kFileHeaderBytes;
      journal::Record record;
      while (true) {
        const std::size_t at = offset;
        const journal::ReadStatus status = journal::read_record(data, offset, record);
        if (status == journal::ReadStatus::kEndOfData) break;
        if (status != journal::ReadStatus::kOk) {
          if (status != journal::ReadStatus::kTruncated && good_record_after(data, at)) {
            throw StateError(fmt::format(
                "{}: offset {}: {}, with good records after it: the journal is damaged in "
                "the middle. Tally will not skip acknowledged events; restore the file or "
                "truncate it at this offset by hand to accept the loss",
                path, at, journal::to_string(status)));
          }
          cut_at = at;
          why = journal::to_string(status);
          break;
        }
        if (record.kind == journal::RecordKind::kEnd) {
          throw StateError(
              fmt::format("{}: offset {}: a snapshot end record in a journal", path, at));
        }
        note_record(record, report);
        sink(record);
        ++report.journal_records;
      }
    }
  }
  if (!why.empty()) {
    // Only this file's unacknowledged last write is lost: an acknowledgement
    // waits for its records to be written whole.
    if (::truncate(path.c_str(), static_cast<off_t>(cut_at)) != 0) {
      throw StateError(fmt::format("{}: cannot cut the torn tail at offset {}: {}", path, cut_at,
                                   strerror(errno)));
    }
    report.repaired.push_back(
        fmt::format("{}: cut {} bytes at offset {} ({})", path, file_size - cut_at, cut_at, why));
  }
  report.bytes += file_size;
  ++report.files;
}

}  // namespace

SnapshotPartResult write_snapshot_part(const SubjectTable& table, const std::string& dir,
                                       std::uint64_t generation, std::uint32_t worker) {
  SnapshotPartResult result;
  result.path = (std::filesystem::path(dir) / snapshot_file_name(generation, worker)).string();
  const std::string temporary = result.path + ".tmp";
  FileSink out(temporary);
  out.buffer() += journal::file_header(journal::kSnapshotMagic);
  journal::Record record;
  table.for_each_subject([&](const SubjectState& state) {
    record.subject = SubjectTable::subject_of(state);
    SubjectTable::for_each_contribution(state, [&](const ContributionView& c) {
      record.kind = journal::RecordKind::kEvent;
      record.time_ms = c.time_ms;
      record.points = c.rule->points;
      record.expires_after_ms = c.rule->expires_after_ms;
      record.rules_version = c.rule->rules_version;
      record.id = c.id;
      record.type = c.rule->name;
      record.source = c.source;
      record.revokes = {};
      record.reason = {};
      journal::append_record(out.buffer(), record);
      ++result.records;
    });
    SubjectTable::for_each_revoke(state, [&](const RevokeView& r) {
      record.kind = journal::RecordKind::kRevoke;
      record.time_ms = r.time_ms;
      record.points = 0;
      record.expires_after_ms = stream::kNever;
      record.rules_version = 0;
      record.id = r.id;
      record.type = RuleSet::kRevokeType;
      record.source = r.source;
      record.revokes = r.target;
      record.reason = r.reason;
      journal::append_record(out.buffer(), record);
      ++result.records;
    });
    out.maybe_flush();
  });
  journal::append_end_record(out.buffer(), result.records);
  result.error = out.finish();
  result.bytes = out.bytes();
  if (result.error == 0 && std::rename(temporary.c_str(), result.path.c_str()) != 0) {
    result.error = errno;
  }
  if (result.error != 0) ::unlink(temporary.c_str());
  return result;
}

RecoveryReport read_state(const StateFiles& files,
                          const std::function<void(const journal::Record&)>& sink) {
  const auto start = std::chrono::steady_clock::now();
  RecoveryReport report;
  report.snapshot_generation = files.snapshot_generation;
  for (const std::string& path : files.snapshots) read_snapshot_part(path, report, sink);
  for (const std::string& path : files.journals) read_journal(path, report, sink);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tally::scorer
