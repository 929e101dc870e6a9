#include "storage/journal_writer.h"

#include <filesystem>

#include "storage/state_dir.h"

namespace tally::storage {

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

JournalWriter::JournalWriter(Env* env, JournalOptions options, std::uint32_t worker)
    : env_(env), options_(std::move(options)), worker_(worker) {
  buffer_.reserve(1 << 20);
}

JournalWriter::~JournalWriter() = default;

Status JournalWriter::failed(Status status) {
  ++counters_.errors;
  return status;
}

Status JournalWriter::start_generation(std::uint64_t generation) {
  if (file_ != nullptr) {
    if (Status written = write_pending(); !written.is_ok()) return written;
    if (options_.fsync != FsyncMode::kNone && sync_owed_) {
      if (Status synced = sync(); !synced.is_ok()) return synced;
    }
    close_segment();
  }
  generation_ = generation;
  segment_ = 0;
  alert_ordinal_ = 0;
  return open_segment();
}

void JournalWriter::close_segment() {
  // Everything in it was written (and, unless kNone, synced): a failed close
  // cannot lose an acknowledged record.
  (void)file_->close();
  file_.reset();
  sync_owed_ = false;
}

Status JournalWriter::open_segment() {
  ++segment_;
  path_ = (std::filesystem::path(options_.dir) / journal_file_name(generation_, worker_, segment_))
              .string();
  auto created = env_->new_writable_file(path_, OpenMode::kTruncate);
  if (!created.is_ok()) {
    --segment_;  // retried under the same name
    return failed(created.status());
  }
  std::unique_ptr<WritableFile> file = std::move(*created);
  // The header and the directory entry are made durable at once: an
  // acknowledgement may soon depend on this file existing.
  Status status = file->append(journal::file_header(journal::kJournalMagic));
  if (status.is_ok() && options_.fsync != FsyncMode::kNone) status = file->sync();
  if (status.is_ok() && options_.fsync != FsyncMode::kNone) status = env_->sync_dir(options_.dir);
  if (!status.is_ok()) {
    (void)file->close();
    (void)env_->remove(path_);
    --segment_;
    return failed(status);
  }
  file_ = std::move(file);
  ++counters_.segments;
  return Status::ok();
}

void JournalWriter::append(const journal::Record& record) {
  journal::append_record(buffer_, record);
  ++counters_.records;
}

void JournalWriter::append_alert(journal::Record& record) {
  record.kind = journal::RecordKind::kAlert;
  record.origin = {generation_, worker_, ++alert_ordinal_};
  journal::append_alert_record(buffer_, record);
}

Status JournalWriter::write_pending() {
  if (written_ == buffer_.size()) return Status::ok();
  if (file_ == nullptr) {
    if (Status opened = open_segment(); !opened.is_ok()) return opened;
  }
  const std::uint64_t before = file_->size();
  const Status status = file_->append(std::string_view(buffer_).substr(written_));
  // A short write's prefix is in the file: the next attempt starts after it.
  const std::uint64_t landed = file_->size() - before;
  written_ += static_cast<std::size_t>(landed);
  counters_.bytes_written += landed;
  if (landed > 0) sync_owed_ = true;
  if (!status.is_ok()) return failed(status);
  buffer_.clear();  // keeps its capacity
  written_ = 0;
  return Status::ok();
}

Status JournalWriter::sync() {
  if (Status synced = file_->sync(); !synced.is_ok()) return failed(synced);
  sync_owed_ = false;
  ++counters_.syncs;
  return Status::ok();
}

Status JournalWriter::flush(bool acks_waiting, std::int64_t now_ms) {
  if (Status written = write_pending(); !written.is_ok()) return written;
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) {
    const bool due = now_ms - last_sync_ms_ >= options_.sync_interval_ms;
    if ((acks_waiting && options_.fsync == FsyncMode::kBatch) || due) {
      if (Status synced = sync(); !synced.is_ok()) return synced;
      last_sync_ms_ = now_ms;
    }
  }
  // Rotate only a settled segment, so that no sync is ever owed to a closed
  // file (kNone owes none).
  if (file_ != nullptr && file_->size() >= options_.segment_bytes &&
      (!sync_owed_ || options_.fsync == FsyncMode::kNone)) {
    close_segment();
  }
  return Status::ok();
}

Status JournalWriter::finish() {
  if (Status written = write_pending(); !written.is_ok()) return written;
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) return sync();
  return Status::ok();
}

}  // namespace tally::storage
