#include "storage/snapshot_writer.h"

#include <filesystem>

#include "storage/state_dir.h"

namespace tally::storage {
namespace {

// Records are written in pieces of about this size: few syscalls, little memory.
constexpr std::size_t kWriteBytes = 1 << 20;

}  // namespace

SnapshotPartWriter::SnapshotPartWriter(Env* env, std::string dir, std::uint64_t generation,
                                       std::uint32_t worker)
    : env_(env),
      dir_(std::move(dir)),
      path_((std::filesystem::path(dir_) / snapshot_file_name(generation, worker)).string()),
      temporary_(path_ + ".tmp") {
  auto created = env_->new_writable_file(temporary_, OpenMode::kTruncate);
  if (created.is_ok()) {
    file_ = std::move(*created);
  } else {
    status_ = created.status();
  }
  buffer_.reserve(kWriteBytes + journal::kMaxPayloadBytes);
  buffer_ += journal::file_header(journal::kSnapshotMagic);
}

SnapshotPartWriter::~SnapshotPartWriter() {
  if (!finished_ && file_ != nullptr) {
    file_.reset();
    (void)env_->remove(temporary_);
  }
}

void SnapshotPartWriter::write_buffer() {
  if (status_.is_ok()) status_ = file_->append(buffer_);
  buffer_.clear();
}

void SnapshotPartWriter::add(const journal::Record& record) {
  journal::append_record(buffer_, record);
  ++records_;
  if (buffer_.size() >= kWriteBytes) write_buffer();
}

SnapshotPartResult SnapshotPartWriter::finish() {
  finished_ = true;
  SnapshotPartResult result;
  result.path = path_;
  result.records = records_;
  journal::append_end_record(buffer_, records_);
  write_buffer();
  if (status_.is_ok()) status_ = file_->sync();
  if (status_.is_ok()) status_ = file_->close();
  if (status_.is_ok()) status_ = env_->rename(temporary_, path_);
  if (file_ != nullptr) {
    result.bytes = file_->size();
    if (!status_.is_ok()) {
      file_.reset();
      (void)env_->remove(temporary_);
    }
  }
  result.status = status_;
  return result;
}

}  // namespace tally::storage
