#include "scorer/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "scorer/rules.h"
#include "scorer/state_dir.h"

namespace tally::scorer {

const char* to_string(FsyncMode mode) noexcept {
  switch (mode) {
    case FsyncMode::kBatch:
      return "batch";
    case FsyncMode::kInterval:
      return "interval";
    case FsyncMode::kNone:
      return "none";
  }
  return "?";
}

bool parse_fsync_mode(std::string_view text, FsyncMode& mode) noexcept {
  if (text == "batch") {
    mode = FsyncMode::kBatch;
  } else if (text == "interval") {
    mode = FsyncMode::kInterval;
  } else if (text == "none") {
    mode = FsyncMode::kNone;
  } else {
    return false;
  }
  return true;
}

JournalWriter::JournalWriter(JournalOptions options, std::uint32_t worker)
    : options_(std::move(options)), worker_(worker) {
  buffer_.reserve(1 << 20);
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

int JournalWriter::start_generation(std::uint64_t generation) {
  if (fd_ >= 0) {
    if (const int error = write_pending(); error != 0) return error;
    if (options_.fsync != FsyncMode::kNone && sync_owed_) {
      if (const int error = sync(); error != 0) return error;
    }
    ::close(fd_);
    fd_ = -1;
  }
  generation_ = generation;
  segment_ = 0;
  needs_new_segment_ = true;
  return open_segment();
}

int JournalWriter::open_segment() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ++segment_;
  path_ = (std::filesystem::path(options_.dir) / journal_file_name(generation_, worker_, segment_))
              .string();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int error = errno;
    --segment_;  // retried under the same name
    ++counters_.errors;
    return error;
  }
  const std::string header = journal::file_header(journal::kJournalMagic);
  // The header and the directory entry are made durable at once: an
  // acknowledgement may soon depend on this file existing.
  if (::write(fd_, header.data(), header.size()) != static_cast<ssize_t>(header.size()) ||
      (options_.fsync != FsyncMode::kNone && ::fdatasync(fd_) != 0)) {
    const int error = errno != 0 ? errno : EIO;
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
    --segment_;
    ++counters_.errors;
    return error;
  }
  if (options_.fsync != FsyncMode::kNone) (void)fsync_dir(options_.dir);
  file_bytes_ = header.size();
  needs_new_segment_ = false;
  ++counters_.segments;
  return 0;
}

void JournalWriter::append(const stream::Event& event) {
  const Rule& rule = RuleSet::rule_of(*event.type);
  journal::Record& record = scratch_;
  record.kind = rule.is_revoke ? journal::RecordKind::kRevoke : journal::RecordKind::kEvent;
  record.time_ms = event.time_ms;
  record.points = rule.points;
  record.expires_after_ms = rule.expires_after_ms;
  record.rules_version = rule.rules_version;
  record.id = event.id.view();
  record.subject = event.subject.view();
  record.type = rule.name;
  record.source = event.source.view();
  record.revokes = rule.is_revoke ? event.revokes.view() : std::string_view();
  record.reason = rule.is_revoke ? event.reason.view() : std::string_view();
  journal::append_record(buffer_, record);
  ++counters_.records;
}

int JournalWriter::write_pending() {
  if (written_ == buffer_.size()) return 0;
  if (needs_new_segment_) {
    if (const int error = open_segment(); error != 0) return error;
  }
  while (written_ < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written_, buffer_.size() - written_);
    if (n < 0) {
      if (errno == EINTR) continue;
      ++counters_.errors;
      return errno;
    }
    written_ += static_cast<std::size_t>(n);
    file_bytes_ += static_cast<std::uint64_t>(n);
    counters_.bytes_written += static_cast<std::uint64_t>(n);
    sync_owed_ = true;
  }
  buffer_.clear();  // keeps its capacity
  written_ = 0;
  return 0;
}

int JournalWriter::sync() {
  if (::fdatasync(fd_) != 0) {
    ++counters_.errors;
    return errno;
  }
  sync_owed_ = false;
  ++counters_.syncs;
  return 0;
}

int JournalWriter::flush(bool acks_waiting, std::int64_t now_ms) {
  if (buffer_.size() > written_) {
    if (const int error = write_pending(); error != 0) return error;
  }
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) {
    const bool due = now_ms - last_sync_ms_ >= options_.sync_interval_ms;
    if ((acks_waiting && options_.fsync == FsyncMode::kBatch) || due) {
      if (const int error = sync(); error != 0) return error;
      last_sync_ms_ = now_ms;
    }
  }
  if (file_bytes_ >= options_.segment_bytes && !sync_owed_) {
    ::close(fd_);
    fd_ = -1;
    needs_new_segment_ = true;
  } else if (file_bytes_ >= options_.segment_bytes && options_.fsync == FsyncMode::kNone) {
    ::close(fd_);
    fd_ = -1;
    needs_new_segment_ = true;
    sync_owed_ = false;
  }
  return 0;
}

}  // namespace tally::scorer

namespace tally::scorer {

int JournalWriter::finish() {
  if (const int error = write_pending(); error != 0) return error;
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) return sync();
  return 0;
}

}  // namespace tally::scorer
