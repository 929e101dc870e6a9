#include "storage/fault_injection_env.h"

#include <algorithm>
#include <filesystem>
#include <limits>

namespace tally::storage {
namespace {

// A file this Env did not write: all of it is durable.
constexpr std::uint64_t kAllSynced = std::numeric_limits<std::uint64_t>::max();

// One spelling per directory, so that sync_dir("d/") covers "d/x".
std::string directory_key(const std::filesystem::path& dir) {
  std::string key = dir.lexically_normal().string();
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  return key.empty() ? std::string(".") : key;
}

std::string directory_of(const std::string& path) {
  return directory_key(std::filesystem::path(path).lexically_normal().parent_path());
}

}  // namespace

class FaultInjectionEnv::FaultFile final : public WritableFile {
 public:
  // `base` null: opened while the power was cut, so nothing reaches a disk.
  FaultFile(FaultInjectionEnv& env, std::unique_ptr<WritableFile> base, std::string path,
            std::shared_ptr<FileState> state, std::uint64_t epoch)
      : env_(env),
        base_(std::move(base)),
        path_(std::move(path)),
        state_(std::move(state)),
        size_(base_ != nullptr ? base_->size() : 0),
        epoch_(epoch) {}

  Status append(std::string_view bytes) override {
    const std::lock_guard lock(env_.mutex_);
    if (epoch_ != env_.epoch_) return dead("write");
    if (!env_.operation_reaches_disk() || base_ == nullptr) {
      size_ += bytes.size();  // the process believes it wrote them
      return Status::ok();
    }
    std::size_t allowed = bytes.size();
    int error = 0;
    ++env_.appends_;
    if (env_.fail_append_number_ && env_.appends_ == *env_.fail_append_number_) {
      env_.fail_append_number_.reset();
      allowed = 0;
      error = env_.fail_append_error_;
    }
    if (env_.fail_past_offset_ && path_.find(env_.fail_past_path_) != std::string::npos &&
        size_ + allowed > *env_.fail_past_offset_) {
      allowed = static_cast<std::size_t>(
          *env_.fail_past_offset_ > size_ ? *env_.fail_past_offset_ - size_ : 0);
      error = env_.fail_past_error_;
    }
    if (env_.space_left_ && allowed > *env_.space_left_) {
      allowed = static_cast<std::size_t>(*env_.space_left_);
      error = ENOSPC;
    }
    if (allowed > 0) {
      const Status written = base_->append(bytes.substr(0, allowed));
      if (env_.space_left_) *env_.space_left_ -= std::min(*env_.space_left_, base_->size() - size_);
      size_ = base_->size();
      if (!written.is_ok()) return written;
    }
    if (error != 0) return Status::io_error(path_ + ": write (injected fault)", error);
    return Status::ok();
  }

  Status sync() override {
    const std::lock_guard lock(env_.mutex_);
    if (epoch_ != env_.epoch_) return dead("fdatasync");
    if (env_.fail_sync_error_)
      return Status::io_error(path_ + ": fdatasync", *env_.fail_sync_error_);
    if (!env_.operation_reaches_disk() || base_ == nullptr) return Status::ok();
    Status synced = base_->sync();
    if (synced.is_ok()) state_->synced = size_;
    return synced;
  }

  Status close() override {
    const std::lock_guard lock(env_.mutex_);
    if (base_ == nullptr) return Status::ok();
    return base_->close();  // closing changes nothing on disk: even after a cut
  }

  std::uint64_t size() const noexcept override { return size_; }
  const std::string& path() const noexcept override { return path_; }

 private:
  Status dead(const char* step) const {
    return Status::io_error(path_ + ": " + step + " (file opened before a simulated power loss)",
                            EIO);
  }

  FaultInjectionEnv& env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
  std::shared_ptr<FileState> state_;
  std::uint64_t size_;
  std::uint64_t epoch_;
};

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

bool FaultInjectionEnv::operation_reaches_disk() {
  if (power_cut_) return false;
  ++operations_;
  if (cut_after_ && operations_ > *cut_after_) {
    power_cut_ = true;
    return false;
  }
  return true;
}

void FaultInjectionEnv::cut_power() {
  const std::lock_guard lock(mutex_);
  power_cut_ = true;
}

void FaultInjectionEnv::cut_power_after(std::uint64_t operations) {
  const std::lock_guard lock(mutex_);
  cut_after_ = operations_ + operations;
}

bool FaultInjectionEnv::power_is_cut() const {
  const std::lock_guard lock(mutex_);
  return power_cut_;
}

std::uint64_t FaultInjectionEnv::operations() const {
  const std::lock_guard lock(mutex_);
  return operations_;
}

Status FaultInjectionEnv::drop_unsynced_data() {
  const std::lock_guard lock(mutex_);
  Status first;
  const auto keep_first = [&first](Status status) {
    if (first.is_ok() && !status.is_ok()) first = std::move(status);
  };
  // Data: every byte after the last sync goes. (What this Env wrote only
  // grows between syncs, so the synced length is never past the end.)
  for (const auto& [path, state] : files_) {
    if (state->synced != kAllSynced && base_->file_exists(path)) {
      keep_first(base_->truncate(path, state->synced));
    }
  }
  // Names: renames undone newest first, then files whose entry never became
  // durable removed (under the name the undo left them at).
  for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
    keep_first(base_->rename(it->to, it->from));
    if (auto moved = files_.extract(it->to)) {
      files_.insert_or_assign(it->from, std::move(moved.mapped()));
    }
  }
  for (const auto& [path, state] : files_) {
    if (!state->entry_durable && base_->file_exists(path)) keep_first(base_->remove(path));
  }
  // Power back on: what is left is what a restarted process finds.
  files_.clear();
  renames_.clear();
  ++epoch_;
  power_cut_ = false;
  cut_after_.reset();
  return first;
}

void FaultInjectionEnv::fail_write(std::uint64_t nth, int error) {
  const std::lock_guard lock(mutex_);
  fail_append_number_ = appends_ + nth;
  fail_append_error_ = error;
}

void FaultInjectionEnv::fail_writes_past(std::uint64_t offset, std::string path_contains,
                                         int error) {
  const std::lock_guard lock(mutex_);
  fail_past_offset_ = offset;
  fail_past_path_ = std::move(path_contains);
  fail_past_error_ = error;
}

void FaultInjectionEnv::limit_space(std::uint64_t bytes) {
  const std::lock_guard lock(mutex_);
  space_left_ = bytes;
}

void FaultInjectionEnv::lift_space_limit() {
  const std::lock_guard lock(mutex_);
  space_left_.reset();
}

void FaultInjectionEnv::fail_syncs(int error) {
  const std::lock_guard lock(mutex_);
  fail_sync_error_ = error;
}

void FaultInjectionEnv::clear_write_faults() {
  const std::lock_guard lock(mutex_);
  fail_sync_error_.reset();
  fail_append_number_.reset();
  fail_past_offset_.reset();
  space_left_.reset();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::new_writable_file(const std::string& path,
                                                                           OpenMode mode) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) {
    return std::unique_ptr<WritableFile>(
        std::make_unique<FaultFile>(*this, nullptr, path, std::make_shared<FileState>(), epoch_));
  }
  const bool existed = base_->file_exists(path);
  auto opened = base_->new_writable_file(path, mode);
  if (!opened.is_ok()) return opened.status();
  std::shared_ptr<FileState>& state = files_[path];
  if (state == nullptr || !existed) {
    state = std::make_shared<FileState>();
    // An existing name is durable already; its kept bytes are too.
    state->entry_durable = existed;
    state->synced = existed && mode == OpenMode::kAppend ? (*opened)->size() : 0;
  } else {
    state->synced = mode == OpenMode::kAppend ? std::min(state->synced, (*opened)->size()) : 0;
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultFile>(*this, std::move(*opened), path, state, epoch_));
}

Result<std::unique_ptr<FileContents>> FaultInjectionEnv::read_file(const std::string& path) {
  return base_->read_file(path);
}

Status FaultInjectionEnv::rename(const std::string& from, const std::string& to) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) return Status::ok();
  const bool target_existed = base_->file_exists(to);
  if (Status renamed = base_->rename(from, to); !renamed.is_ok()) return renamed;
  std::shared_ptr<FileState> state;
  if (auto moved = files_.extract(from)) {
    state = std::move(moved.mapped());
  } else {
    state = std::make_shared<FileState>();
    state->synced = kAllSynced;
    state->entry_durable = true;
  }
  if (target_existed) {
    state->entry_durable = true;  // not modelled: see the header comment
  } else {
    renames_.push_back({from, to});
  }
  files_.insert_or_assign(to, std::move(state));
  return Status::ok();
}

Status FaultInjectionEnv::remove(const std::string& path) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) return Status::ok();
  if (Status removed = base_->remove(path); !removed.is_ok()) return removed;
  files_.erase(path);
  std::erase_if(renames_, [&path](const PendingRename& rename) { return rename.to == path; });
  return Status::ok();
}

Status FaultInjectionEnv::truncate(const std::string& path, std::uint64_t size) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) return Status::ok();
  if (Status cut = base_->truncate(path, size); !cut.is_ok()) return cut;
  if (const auto it = files_.find(path); it != files_.end()) {
    it->second->synced = std::min(it->second->synced, size);
  }
  return Status::ok();
}

Result<std::vector<std::string>> FaultInjectionEnv::list_dir(const std::string& dir) {
  return base_->list_dir(dir);
}

bool FaultInjectionEnv::file_exists(const std::string& path) { return base_->file_exists(path); }

Status FaultInjectionEnv::sync_dir(const std::string& dir) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) return Status::ok();
  if (Status synced = base_->sync_dir(dir); !synced.is_ok()) return synced;
  const std::string key = directory_key(dir);
  for (const auto& [path, state] : files_) {
    if (directory_of(path) == key) state->entry_durable = true;
  }
  std::erase_if(renames_,
                [&key](const PendingRename& rename) { return directory_of(rename.to) == key; });
  return Status::ok();
}

Status FaultInjectionEnv::create_dir(const std::string& dir) {
  const std::lock_guard lock(mutex_);
  if (!operation_reaches_disk()) return Status::ok();
  return base_->create_dir(dir);
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::lock_file(const std::string& path) {
  return base_->lock_file(path);
}

}  // namespace tally::storage
