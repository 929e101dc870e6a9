#include "storage/alert_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <filesystem>

namespace tally::storage {
namespace {

constexpr std::string_view kMagic = "TALLYALG";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 16;
constexpr std::size_t kFixedPayloadBytes = 8 + 8 + 8 + 4 + 8;
// An alert body is a few hundred bytes (its strings are bounded by the
// event's limits and rules.h's tier name limit); more is damage.
constexpr std::size_t kMaxPayloadBytes = 8192;
// An in-memory segment reserves its segment_bytes up front, up to this.
constexpr std::uint64_t kMaxReservedSegmentBytes = 64ULL << 20;
constexpr std::string_view kPrefix = "alerts-";
constexpr std::string_view kSuffix = ".tal";

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
T get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

std::string segment_name(std::uint64_t first_seq) {
  return fmt::format("{}{:020}{}", kPrefix, first_seq, kSuffix);
}

// The first seq of a segment's file name; 0 if it is not one.
std::uint64_t seq_of_name(std::string_view name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return 0;
  name.remove_prefix(kPrefix.size());
  name.remove_suffix(kSuffix.size());
  if (name.size() != 20) return 0;
  std::uint64_t seq = 0;
  for (const char c : name) {
    if (c < '0' || c > '9') return 0;
    seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return seq;
}

std::uint64_t origin_key(const journal::AlertOrigin& origin) {
  return (origin.generation << 16) ^ origin.worker;
}

struct DecodedAlert {
  std::uint64_t seq = 0;
  std::int64_t logged_ms = 0;
  journal::AlertOrigin origin;
  std::string_view body;
};

// Decodes the record at data[offset..]; false (offset unchanged) if there is
// no whole, intact record there.
bool decode(std::string_view data, std::size_t& offset, DecodedAlert& alert) {
  if (data.size() - offset < journal::kRecordHeaderBytes) return false;
  const auto length = get<std::uint32_t>(data.data() + offset);
  const auto crc = get<std::uint32_t>(data.data() + offset + 4);
  if (length < kFixedPayloadBytes || length > kMaxPayloadBytes) return false;
  if (data.size() - offset - journal::kRecordHeaderBytes < length) return false;
  const char* payload = data.data() + offset + journal::kRecordHeaderBytes;
  if (journal::crc32c(payload, length) != crc) return false;
  alert.seq = get<std::uint64_t>(payload);
  alert.logged_ms = get<std::int64_t>(payload + 8);
  alert.origin.generation = get<std::uint64_t>(payload + 16);
  alert.origin.worker = get<std::uint32_t>(payload + 24);
  alert.origin.ordinal = get<std::uint64_t>(payload + 28);
  alert.body = std::string_view(payload + kFixedPayloadBytes, length - kFixedPayloadBytes);
  offset += journal::kRecordHeaderBytes + length;
  return true;
}

}  // namespace

Result<std::unique_ptr<AlertLog>> AlertLog::open(Env* env, AlertLogOptions options) {
  std::unique_ptr<AlertLog> log(new AlertLog(env, std::move(options)));
  if (log->in_memory()) return log;
  const std::string& dir = log->options_.dir;
  if (Status made = env->create_dir(dir); !made.is_ok()) return made;
  auto names = env->list_dir(dir);
  if (!names.is_ok()) return names.status();
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for (const std::string& name : *names) {
    if (const std::uint64_t seq = seq_of_name(name); seq > 0) found.emplace_back(seq, name);
  }
  std::sort(found.begin(), found.end());
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (Status loaded = log->load_segment(found[i].second, i + 1 == found.size());
        !loaded.is_ok()) {
      return loaded;
    }
  }
  return log;
}

Status AlertLog::load_segment(const std::string& name, bool newest) {
  const std::string path = (std::filesystem::path(options_.dir) / name).string();
  const std::uint64_t first_seq = seq_of_name(name);
  Segment segment;
  segment.first_seq = first_seq;
  segment.end_seq = first_seq;
  segment.path = path;
  segment.closed = true;  // new alerts start a segment of their own
  std::size_t cut_at = 0;
  {
    auto file = env_->read_file(path);
    if (!file.is_ok()) return file.status();
    const std::string_view data = (*file)->bytes();
    if (data.size() >= kHeaderBytes &&
        (data.substr(0, kMagic.size()) != kMagic ||
         get<std::uint32_t>(data.data() + kMagic.size()) != kVersion)) {
      return Status::corruption(
          fmt::format("{}: offset 0: not an alert log segment of version {}", path, kVersion));
    }
    std::size_t offset = kHeaderBytes;
    DecodedAlert alert;
    while (offset < data.size()) {
      const std::size_t at = offset;
      if (!decode(data, offset, alert) || alert.seq != segment.end_seq) {
        if (!newest) {
          return Status::corruption(fmt::format(
              "{}: offset {}: {}; only the newest segment may end in a torn write. Move the "
              "file away to keep the rest of the log (its alerts stay in no log)",
              path, at,
              offset != at ? fmt::format("seq {} where {} belongs", alert.seq, segment.end_seq)
                           : std::string("damaged record")));
        }
        cut_at = at;
        break;
      }
      if ((alert.seq - first_seq) % kMarkSpacing == 0) segment.marks.push_back(at);
      segment.newest_ms = std::max(segment.newest_ms, alert.logged_ms);
      remember(alert.origin);
      ++segment.end_seq;
    }
    segment.size = cut_at > 0 ? cut_at : data.size();
  }
  if (segment.end_seq == first_seq) {
    // Created, then the crash came before its first alert was whole: the
    // next alert makes the file again.
    return newest ? env_->remove(path)
                  : Status::corruption(fmt::format("{}: a segment with no alert", path));
  }
  if (cut_at > 0) {
    if (Status cut = env_->truncate(path, cut_at); !cut.is_ok()) return cut;
  }
  if (!segments_.empty() && segments_.back().end_seq != first_seq) {
    return Status::corruption(fmt::format(
        "{}: starts at seq {}, but the segment before it ends at {}: a segment is missing", path,
        first_seq, segments_.back().end_seq - 1));
  }
  next_seq_ = segment.end_seq;
  bytes_ += segment.size;
  segments_.push_back(std::move(segment));
  return Status::ok();
}

void AlertLog::remember(const journal::AlertOrigin& origin) {
  if (origin.ordinal == 0) return;  // not journaled
  std::uint64_t& highest = origins_[origin_key(origin)];
  highest = std::max(highest, origin.ordinal);
}

bool AlertLog::contains(const journal::AlertOrigin& origin) const {
  const auto it = origins_.find(origin_key(origin));
  return it != origins_.end() && it->second >= origin.ordinal;
}

void AlertLog::append(std::string_view body, const journal::AlertOrigin& origin,
                      std::int64_t now_ms) {
  if (segments_.empty() || segments_.back().closed) {
    Segment& segment = segments_.emplace_back();
    segment.first_seq = next_seq_;
    segment.end_seq = next_seq_;
    if (in_memory()) {
      // It grows to about segment_bytes a batch at a time: reserved at once
      // rather than copied over at each doubling. (Pages are touched only
      // as they are written.)
      segment.memory.reserve(std::min(options_.segment_bytes, kMaxReservedSegmentBytes));
    } else {
      segment.path = (std::filesystem::path(options_.dir) / segment_name(next_seq_)).string();
    }
    buffer_.append(kMagic);
    put<std::uint32_t>(buffer_, kVersion);
    put<std::uint32_t>(buffer_, 0);
  }
  const Segment& segment = segments_.back();
  if ((next_seq_ - segment.first_seq) % kMarkSpacing == 0) {
    buffered_marks_.push_back(segment.size + buffer_.size());
  }
  const std::size_t length = kFixedPayloadBytes + std::min(body.size(), kMaxPayloadBytes - 64);
  const std::size_t start = buffer_.size();
  // The fixed fields go together into one append, not one each: this runs
  // once per alert on the control thread.
  std::array<char, journal::kRecordHeaderBytes + kFixedPayloadBytes> fixed;
  char* at = fixed.data();
  const auto write = [&at](auto value) {
    std::memcpy(at, &value, sizeof value);
    at += sizeof value;
  };
  write(static_cast<std::uint32_t>(length));
  write(std::uint32_t{0});  // the CRC, once the payload is in
  write(next_seq_);
  write(now_ms);
  write(origin.generation);
  write(origin.worker);
  write(origin.ordinal);
  assert(at == fixed.data() + fixed.size());
  buffer_.append(fixed.data(), fixed.size());
  buffer_.append(body.substr(0, length - kFixedPayloadBytes));
  const std::uint32_t crc =
      journal::crc32c(buffer_.data() + start + journal::kRecordHeaderBytes, length);
  std::memcpy(buffer_.data() + start + 4, &crc, sizeof crc);
  buffered_newest_ms_ = std::max(buffered_newest_ms_, now_ms);
  remember(origin);
  ++next_seq_;
  ++counters_.appended;
}

Status AlertLog::write_buffered(Segment& segment) {
  if (in_memory()) {
    segment.memory += buffer_;
    segment.size += buffer_.size();
    bytes_ += buffer_.size();
    buffer_.clear();
    return Status::ok();
  }
  bool created = false;
  if (segment.file == nullptr) {
    auto file = env_->new_writable_file(segment.path, OpenMode::kTruncate);
    if (!file.is_ok()) return file.status();
    segment.file = std::move(*file);
    created = true;
  }
  const std::uint64_t before = segment.file->size();
  const Status written = segment.file->append(buffer_);
  // A short write's prefix is in the file: the next attempt goes on after it.
  const std::uint64_t landed = segment.file->size() - before;
  buffer_.erase(0, landed);
  segment.size += landed;
  bytes_ += landed;
  if (!written.is_ok()) return written;
  if (options_.fsync == FsyncMode::kNone) return Status::ok();
  if (Status synced = segment.file->sync(); !synced.is_ok()) return synced;
  return created ? env_->sync_dir(options_.dir) : Status::ok();
}

Status AlertLog::commit(std::int64_t now_ms) {
  if (!buffer_.empty() && !segments_.empty()) {
    Segment& segment = segments_.back();
    if (Status written = write_buffered(segment); !written.is_ok()) {
      ++counters_.errors;
      return written;
    }
    segment.end_seq = next_seq_;
    segment.newest_ms = std::max(segment.newest_ms, buffered_newest_ms_);
    segment.marks.insert(segment.marks.end(), buffered_marks_.begin(), buffered_marks_.end());
    buffered_marks_.clear();
    buffered_newest_ms_ = 0;
    if (segment.size >= options_.segment_bytes) {
      if (segment.file != nullptr) (void)segment.file->close();
      segment.file.reset();
      segment.closed = true;
    }
  }
  enforce_retention(now_ms);
  return Status::ok();
}

void AlertLog::enforce_retention(std::int64_t now_ms) {
  // Never the newest segment: it holds the last seq, which numbering goes on from.
  while (
      segments_.size() > 1 && segments_.front().closed &&
      (segments_.front().newest_ms < now_ms - options_.retain_ms || bytes_ > options_.max_bytes)) {
    drop_oldest();
  }
}

void AlertLog::drop_oldest() {
  Segment& oldest = segments_.front();
  if (!in_memory() && !env_->remove(oldest.path).is_ok()) ++counters_.errors;
  bytes_ -= oldest.size;
  ++counters_.segments_dropped;
  segments_.pop_front();
}

std::uint64_t AlertLog::oldest_seq() const noexcept {
  return segments_.empty() ? next_seq_ : segments_.front().first_seq;
}

Result<AlertRange> AlertLog::read(std::uint64_t since, std::uint64_t limit) const {
  AlertRange range;
  // Committed alerts end where the newest segment's committed part ends.
  const std::uint64_t end = segments_.empty() ? next_seq_ : segments_.back().end_seq;
  range.oldest = std::min(oldest_seq(), end);
  range.last = end - 1;
  since = std::max(since, range.oldest);
  range.first = since;
  limit = std::min(limit, kMaxReadLimit);
  // The segment holding `since`: the last one starting at or before it.
  auto segment =
      std::upper_bound(segments_.begin(), segments_.end(), since,
                       [](std::uint64_t seq, const Segment& s) { return seq < s.first_seq; });
  if (segment != segments_.begin()) --segment;
  std::uint64_t seq = since;
  for (; segment != segments_.end() && range.bodies.size() < limit && seq < end; ++segment) {
    if (seq >= segment->end_seq || segment->marks.empty()) continue;
    std::unique_ptr<FileContents> mapped;
    std::string_view data = segment->memory;
    if (!in_memory()) {
      auto file = env_->read_file(segment->path);
      if (!file.is_ok()) return file.status();
      mapped = std::move(*file);
      data = mapped->bytes();
    }
    data = data.substr(0, segment->size);
    std::size_t offset = segment->marks[(seq - segment->first_seq) / kMarkSpacing];
    DecodedAlert alert;
    while (range.bodies.size() < limit && seq < segment->end_seq) {
      if (!decode(data, offset, alert)) {
        return Status::corruption(
            fmt::format("{}: offset {}: damaged alert record", segment->path, offset));
      }
      if (alert.seq < seq) continue;
      range.bodies.emplace_back(alert.body);
      ++seq;
    }
  }
  range.next = range.first + range.bodies.size();
  return range;
}

}  // namespace tally::storage
