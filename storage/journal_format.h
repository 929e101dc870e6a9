// The on-disk record format shared by journals and snapshots.
//
// Both kinds of file are a header followed by records; a snapshot is nothing
// but the records that rebuild a shard (one per live contribution and one per
// revoke), so recovery has one reader and one apply path for both. Applying a
// record is idempotent (ids are deduplicated) and order-independent (a score is
// a function of the set of events), so a record found in a snapshot and again
// in a journal is harmless, and files may be replayed in any order into any
// number of workers.
//
// File header (16 bytes):   8 bytes magic "TALLYJNL" or "TALLYSNP"
//                           u32 format version (kFormatVersion)
//                           u32 reserved, 0
// Record:                   u32 payload length | u32 CRC-32C of the payload
//                           | payload
// Payload:                  u8 kind | i64 time_ms | i32 points
//                           | i64 expires_after_ms | u32 rules_version
//                           | u8 id_len | id | u8 subject_len | subject
//                           | u16 type_len | type | u8 source_len | source
//                           | (revoke only) u8 revokes_len | revokes
//                           | (revoke only) u8 reason_len | reason
//                           | (revoke only, optional) u8 actor_len | actor
// Alert payload (format 2):  u8 kind | i64 time_ms | i64 score | u8 by_expiry
//                           | u64 generation | u32 worker | u64 ordinal
//                           | u8 id_len | id (the cause) | u8 subject_len
//                           | subject | u16 from_len | from | u16 to_len | to
// Snapshot end (last record of every snapshot, so a cut file is detected
// even without the rename): kind kEnd, then u64 record count.
//
// An alert record is a tier change the worker raised, journaled in the same
// group commit as the event that caused it, so that it is durable before that
// event's batch is acknowledged. Applying ignores it; the daemon's alert log
// (alert_log.h) is completed from these after a crash. Its origin (the
// journal generation, the worker, and the worker's count of alerts in that
// generation) names it uniquely: every process start and every snapshot opens
// a new generation.
//
// Integers are little-endian (the only byte order Tally is built for; the
// static_assert in the .cc says so). A record carries the terms it was applied
// with (points, expiry, rule version), not a reference to a rule: a later rule
// file may drop or change the rule, and contributions are not retroactive.
//
// Thread-safety: pure functions over caller-owned buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/event.h"

namespace tally::storage::journal {

inline constexpr std::string_view kJournalMagic = "TALLYJNL";
inline constexpr std::string_view kSnapshotMagic = "TALLYSNP";
// Version 2 added alert records; version 1 files (no alerts) are read as well.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kOldestReadableVersion = 1;
inline constexpr std::size_t kFileHeaderBytes = 16;
inline constexpr std::size_t kRecordHeaderBytes = 8;
// No valid payload is longer (the strings are bounded by event.h's limits and
// a rule name by kMaxTypeBytes); a larger length is corruption, not a record.
inline constexpr std::size_t kMaxTypeBytes = 1024;
inline constexpr std::size_t kMaxPayloadBytes = 4096;

enum class RecordKind : std::uint8_t {
  kEvent = 1,   // an accepted event: a contribution
  kRevoke = 2,  // an accepted revoke
  kAlert = 3,   // a tier change raised by an accepted event or an expiry
  kEnd = 0x7f,  // end of a snapshot
};

// Which alert of which journal: unique across restarts (see above).
struct AlertOrigin {
  std::uint64_t generation = 0;
  std::uint32_t worker = 0;
  std::uint64_t ordinal = 0;  // 1 for the worker's first alert in the generation
  friend bool operator==(const AlertOrigin&, const AlertOrigin&) = default;
};

// A decoded record. Views point into the buffer it was decoded from.
struct Record {
  RecordKind kind = RecordKind::kEvent;
  std::int64_t time_ms = 0;
  std::int32_t points = 0;
  std::int64_t expires_after_ms = kNever;
  std::uint32_t rules_version = 0;
  std::string_view id;
  std::string_view subject;
  std::string_view type;  // the rule's name ("revoke" for a revoke)
  std::string_view source;
  std::string_view revokes;  // revoke only
  std::string_view reason;   // revoke only
  // Revoke only: the authenticated client that sent it (tallyd --auth).
  // Written only when not empty, so records without it keep their bytes and
  // older files read the same.
  std::string_view actor;
  std::uint64_t end_count = 0;  // kEnd only: records before it
  // kAlert only (time_ms is the change's time, id its cause, subject its subject).
  std::int64_t score = 0;
  bool by_expiry = false;
  AlertOrigin origin;
  std::string_view tier_from;
  std::string_view tier_to;
};

std::string file_header(std::string_view magic);
// True when `bytes` starts with a header of this magic and a version this
// build reads; `error` says which part is wrong otherwise.
bool check_file_header(std::string_view bytes, std::string_view magic, std::string& error);

// Appends one record to `out`. The caller guarantees the bounds (they are the
// decoder's), so encoding cannot fail. Reuses `out`'s capacity: no allocation
// once the buffer has grown to its working size.
void append_record(std::string& out, const Record& record);
// Appends one alert record (kind kAlert; tier names up to kMaxTypeBytes).
void append_alert_record(std::string& out, const Record& record);
void append_end_record(std::string& out, std::uint64_t count);

enum class ReadStatus : std::uint8_t {
  kOk,
  kEndOfData,    // no bytes left
  kTruncated,    // the record runs past the end of the data
  kBadLength,    // a length no record can have
  kBadChecksum,  // the payload does not match its CRC
  kBadPayload,   // CRC fine but fields inconsistent (a bug or a future format)
};
const char* to_string(ReadStatus status) noexcept;

// Reads the record at `data[offset..]`. On kOk fills `record` and advances
// `offset` past it; otherwise leaves `offset` where the bad record starts.
ReadStatus read_record(std::string_view data, std::size_t& offset, Record& record) noexcept;

// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE 4.2.
std::uint32_t crc32c(const void* data, std::size_t size) noexcept;

}  // namespace tally::storage::journal
