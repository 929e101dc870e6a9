#include "storage/journal_writer.h"

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/backoff.h"
#include "storage/state_dir.h"

namespace tally::storage {

// The thread that waits for the disk instead of the worker. Requests come in
// the order the writer made them (a segment's last sync and close before the
// next segment's creation is made durable), so a request's position being
// synced means everything before it is too.
class JournalWriter::Syncer {
 public:
  struct Request {
    WritableFile* file = nullptr;  // null: the directory only
    bool close = false;            // the syncer owns `file`: close and free it after the sync
    bool sync_dir = false;         // also make the directory's entries durable
    std::uint64_t position = 0;    // the written position the request covers
  };

  Syncer(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Syncer() {
    stopping_.store(true, std::memory_order_release);
    wake();
    thread_.join();
  }
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // Writer thread. Never more than a few requests are in flight (one sync
  // at a time plus segment hand-overs), so the queue never stays full.
  void post(const Request& request) {
    Backoff backoff;
    while (!requests_.push(request)) backoff.pause();
    ++posted_;
    wake();
  }
  bool idle() const noexcept { return done_.load(std::memory_order_acquire) == posted_; }
  std::uint64_t synced_position() const noexcept {
    return synced_position_.load(std::memory_order_acquire);
  }
  std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_acquire); }
  Status last_failure() const {
    const std::lock_guard lock(failure_mutex_);
    return last_failure_;
  }

 private:
  static constexpr auto kRetryPause = std::chrono::milliseconds(100);

  void wake() {
    wake_.fetch_add(1, std::memory_order_release);
    wake_.notify_one();
  }

  void run() {
    while (true) {
      // Read the wake word before looking at the queue, so a request posted
      // between the look and the wait changes it and the wait returns.
      const std::uint32_t seen = wake_.load(std::memory_order_acquire);
      Request request;
      if (requests_.pop(request)) {
        carry_out(request);
        continue;
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      wake_.wait(seen, std::memory_order_acquire);
    }
  }

  void carry_out(const Request& request) {
    // A failed sync is retried until it succeeds: the position must not pass
    // bytes the disk may not have. While stopping there is no one left to
    // wait for it; the owner has already reported what was not settled.
    while (true) {
      Status status = Status::ok();
      if (request.file != nullptr) status = request.file->sync();
      if (status.is_ok() && request.sync_dir) status = env_->sync_dir(dir_);
      if (status.is_ok()) break;
      {
        const std::lock_guard lock(failure_mutex_);
        last_failure_ = std::move(status);
      }
      failures_.fetch_add(1, std::memory_order_release);
      if (!pause_before_retry()) break;
    }
    if (request.file != nullptr) syncs_.fetch_add(1, std::memory_order_relaxed);
    if (request.close) {
      (void)request.file->close();
      delete request.file;
    }
    synced_position_.store(request.position, std::memory_order_release);
    done_.fetch_add(1, std::memory_order_release);
  }

  // False once the writer is being destroyed.
  bool pause_before_retry() {
    const auto until = std::chrono::steady_clock::now() + kRetryPause;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping_.load(std::memory_order_acquire)) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  Env* env_;
  std::string dir_;
  boost::lockfree::spsc_queue<Request, boost::lockfree::capacity<64>> requests_;
  std::uint64_t posted_ = 0;  // writer thread only
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> synced_position_{0};
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint32_t> wake_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex failure_mutex_;  // only on a failure, never on the way of a good sync
  Status last_failure_;
  std::thread thread_;
};

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
  if (options_.background_sync && options_.fsync != FsyncMode::kNone) {
    syncer_ = std::make_unique<Syncer>(env_, options_.dir);
  }
}

JournalWriter::~JournalWriter() {
  syncer_.reset();  // joined first: it may still be closing a file it was handed
}

JournalCounters JournalWriter::counters() const noexcept {
  JournalCounters counters = counters_;
  if (syncer_ != nullptr) {
    counters.syncs += syncer_->syncs();
    counters.errors += syncer_->failures() - syncer_failures_seen_;
  }
  return counters;
}

std::uint64_t JournalWriter::settled_position() const noexcept {
  if (options_.fsync != FsyncMode::kBatch) return written_position();
  return syncer_ != nullptr ? syncer_->synced_position() : synced_position_;
}

void JournalWriter::post_sync(WritableFile* file, bool close, bool sync_dir) {
  syncer_->post({file, close, sync_dir, written_position()});
  sync_owed_ = false;
}

Status JournalWriter::take_syncer_failure() {
  const std::uint64_t failures = syncer_->failures();
  if (failures == syncer_failures_seen_) return Status::ok();
  counters_.errors += failures - syncer_failures_seen_;
  syncer_failures_seen_ = failures;
  return syncer_->last_failure();
}

Status JournalWriter::wait_for_syncer() {
  Backoff backoff;
  while (!syncer_->idle()) {
    // A failing disk keeps the syncer retrying: report it rather than wait.
    if (Status failure = take_syncer_failure(); !failure.is_ok()) return failure;
    backoff.pause();
  }
  return take_syncer_failure();
}

Status JournalWriter::failed(Status status) {
  ++counters_.errors;
  return status;
}

Status JournalWriter::start_generation(std::uint64_t generation) {
  if (file_ != nullptr) {
    if (Status finished = finish(); !finished.is_ok()) return finished;
    close_segment();
  } else if (syncer_ != nullptr) {
    // A segment handed over at rotation may still be syncing.
    if (Status synced = wait_for_syncer(); !synced.is_ok()) return synced;
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
  // With a syncer, records may follow before the header is durable: no
  // acknowledgement passes the syncer's position for this request, which
  // makes them durable first.
  const bool sync_now = options_.fsync != FsyncMode::kNone && syncer_ == nullptr;
  if (status.is_ok() && sync_now) status = file->sync();
  if (status.is_ok() && sync_now) status = env_->sync_dir(options_.dir);
  if (!status.is_ok()) {
    (void)file->close();
    (void)env_->remove(path_);
    --segment_;
    return failed(status);
  }
  file_ = std::move(file);
  ++counters_.segments;
  if (syncer_ != nullptr) post_sync(file_.get(), /*close=*/false, /*sync_dir=*/true);
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
  flushed_position_ += buffer_.size();
  buffer_.clear();  // keeps its capacity
  written_ = 0;
  return Status::ok();
}

Status JournalWriter::sync() {
  if (Status synced = file_->sync(); !synced.is_ok()) return failed(synced);
  sync_owed_ = false;
  synced_position_ = written_position();
  ++counters_.syncs;
  return Status::ok();
}

Status JournalWriter::flush(bool acks_waiting, std::int64_t now_ms) {
  if (Status written = write_pending(); !written.is_ok()) return written;
  if (syncer_ != nullptr) {
    if (Status failure = take_syncer_failure(); !failure.is_ok()) return failure;
  }
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) {
    const bool due = now_ms - last_sync_ms_ >= options_.sync_interval_ms;
    if ((acks_waiting && options_.fsync == FsyncMode::kBatch) || due) {
      if (syncer_ == nullptr) {
        if (Status synced = sync(); !synced.is_ok()) return synced;
        last_sync_ms_ = now_ms;
      } else if (syncer_->idle()) {
        // One sync at a time: what is written while it runs goes with the
        // next one (group commit at the disk, as at the write).
        post_sync(file_.get(), /*close=*/false, /*sync_dir=*/false);
        last_sync_ms_ = now_ms;
      }
    }
  }
  if (file_ == nullptr || file_->size() < options_.segment_bytes) return Status::ok();
  if (syncer_ != nullptr) {
    // The syncer syncs the full segment, then closes it; the next write opens
    // the next one, whose creation it makes durable after that.
    post_sync(file_.release(), /*close=*/true, /*sync_dir=*/false);
    return Status::ok();
  }
  // Rotate only a settled segment, so that no sync is ever owed to a closed
  // file (kNone owes none).
  if (!sync_owed_ || options_.fsync == FsyncMode::kNone) close_segment();
  return Status::ok();
}

Status JournalWriter::finish() {
  if (Status written = write_pending(); !written.is_ok()) return written;
  if (syncer_ != nullptr) {
    if (sync_owed_) post_sync(file_.get(), /*close=*/false, /*sync_dir=*/false);
    return wait_for_syncer();
  }
  if (sync_owed_ && options_.fsync != FsyncMode::kNone) return sync();
  return Status::ok();
}

}  // namespace tally::storage
