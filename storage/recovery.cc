#include "storage/recovery.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace tally::storage {
namespace {

using RecordSink = std::function<void(const journal::Record&)>;

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

Status read_snapshot_part(Env* env, const std::string& path, RecoveryReport& report,
                          const RecordSink& sink) {
  auto file = env->read_file(path);
  if (!file.is_ok()) return file.status();
  const std::string_view data = (*file)->bytes();
  std::string header_error;
  if (!journal::check_file_header(data, journal::kSnapshotMagic, header_error)) {
    return Status::corruption(fmt::format("{}: offset 0: {}", path, header_error));
  }
  std::size_t offset = journal::kFileHeaderBytes;
  std::uint64_t records = 0;
  journal::Record record;
  while (true) {
    const std::size_t at = offset;
    const journal::ReadStatus status = journal::read_record(data, offset, record);
    if (status != journal::ReadStatus::kOk) {
      return Status::corruption(fmt::format(
          "{}: offset {}: {}; a snapshot part is written whole or not at all, so this is "
          "damage: restore it from a backup, or move the snapshot's .done marker away to "
          "recover from the journals alone (if they still reach back far enough)",
          path, at,
          status == journal::ReadStatus::kEndOfData ? "no end record (file cut short)"
                                                    : journal::to_string(status)));
    }
    if (record.kind == journal::RecordKind::kEnd) {
      if (record.end_count != records || offset != data.size()) {
        return Status::corruption(fmt::format(
            "{}: offset {}: end record says {} records, {} read{}", path, at, record.end_count,
            records, offset != data.size() ? ", and bytes follow it" : ""));
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
  return Status::ok();
}

Status read_journal(Env* env, const std::string& path, RecoveryReport& report,
                    const RecordSink& sink) {
  std::size_t cut_at = 0;
  std::string why;
  std::uint64_t file_size = 0;
  {
    auto file = env->read_file(path);
    if (!file.is_ok()) return file.status();
    const std::string_view data = (*file)->bytes();
    file_size = data.size();
    std::string header_error;
    if (data.size() < journal::kFileHeaderBytes) {
      // Created, then the crash came before its header reached the disk.
      cut_at = 0;
      why = "no complete header";
    } else if (!journal::check_file_header(data, journal::kJournalMagic, header_error)) {
      return Status::corruption(fmt::format("{}: offset 0: {}", path, header_error));
    } else {
      std::size_t offset = journal::kFileHeaderBytes;
      journal::Record record;
      while (true) {
        const std::size_t at = offset;
        const journal::ReadStatus status = journal::read_record(data, offset, record);
        if (status == journal::ReadStatus::kEndOfData) break;
        if (status != journal::ReadStatus::kOk) {
          if (status != journal::ReadStatus::kTruncated && good_record_after(data, at)) {
            return Status::corruption(fmt::format(
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
          return Status::corruption(
              fmt::format("{}: offset {}: a snapshot end record in a journal", path, at));
        }
        if (record.kind == journal::RecordKind::kAlert) {
          ++report.journal_alerts;
        } else {
          note_record(record, report);
          ++report.journal_records;
        }
        sink(record);
      }
    }
  }  // unmapped before it is cut
  if (!why.empty()) {
    // Only this file's unacknowledged last write is lost: an acknowledgement
    // waits for its records to be written whole.
    if (Status cut = env->truncate(path, cut_at); !cut.is_ok()) {
      return Status::io_error(
          fmt::format("{}: cannot cut the torn tail at offset {}", path, cut_at), cut.sys_errno());
    }
    report.repaired.push_back(
        fmt::format("{}: cut {} bytes at offset {} ({})", path, file_size - cut_at, cut_at, why));
  }
  report.bytes += file_size;
  ++report.files;
  return Status::ok();
}

}  // namespace

Result<RecoveryReport> read_state(Env* env, const StateFiles& files, const RecordSink& sink) {
  const auto start = std::chrono::steady_clock::now();
  RecoveryReport report;
  report.snapshot_generation = files.snapshot_generation;
  for (const std::string& path : files.snapshots) {
    if (Status read = read_snapshot_part(env, path, report, sink); !read.is_ok()) return read;
  }
  for (const std::string& path : files.journals) {
    if (Status read = read_journal(env, path, report, sink); !read.is_ok()) return read;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tally::storage
