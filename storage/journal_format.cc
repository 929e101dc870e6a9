#include "storage/journal_format.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tally::storage::journal {

static_assert(std::endian::native == std::endian::little,
              "the journal format is little-endian; a big-endian port must byte-swap");

namespace {

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// Reads fields from a payload, tracking whether it ran out.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : rest_(payload) {}

  template <typename T>
  T get() noexcept {
    T value{};
    if (rest_.size() < sizeof(T)) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, rest_.data(), sizeof(T));
    rest_.remove_prefix(sizeof(T));
    return value;
  }
  template <typename Length>
  std::string_view string() noexcept {
    const auto size = get<Length>();
    if (!ok_ || rest_.size() < size) {
      ok_ = false;
      return {};
    }
    const std::string_view text = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return text;
  }
  bool ok() const noexcept { return ok_; }
  bool finished() const noexcept { return ok_ && rest_.empty(); }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

// Table-driven CRC-32C for CPUs without SSE 4.2 (and for other
// architectures); the polynomial is reflected 0x82F63B78.
constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    table[i] = crc;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

std::uint32_t crc32c_portable(const unsigned char* p, std::size_t size) noexcept {
  std::uint32_t crc = ~0u;
  for (std::size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* p,
                                                             std::size_t size) noexcept {
  std::uint64_t crc = ~0u;
  for (; size >= 8; size -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  for (; size > 0; --size, ++p) crc32 = _mm_crc32_u8(crc32, *p);
  return ~crc32;
}
#endif

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  if (has_sse42) return crc32c_sse42(bytes, size);
#endif
  return crc32c_portable(bytes, size);
}

std::string file_header(std::string_view magic) {
  std::string header(magic);
  put<std::uint32_t>(header, kFormatVersion);
  put<std::uint32_t>(header, 0);
  return header;
}

bool check_file_header(std::string_view bytes, std::string_view magic, std::string& error) {
  if (bytes.size() < kFileHeaderBytes) {
    error = "shorter than a file header";
    return false;
  }
  if (bytes.substr(0, magic.size()) != magic) {
    error = "not a Tally " + std::string(magic == kJournalMagic ? "journal" : "snapshot") +
            " (bad magic)";
    return false;
  }
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + magic.size(), sizeof version);
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    error = "format version " + std::to_string(version) + ", this build reads versions " +
            std::to_string(kOldestReadableVersion) + " to " + std::to_string(kFormatVersion);
    return false;
  }
  return true;
}

void append_record(std::string& out, const Record& record) {
  // One resize and straight copies: this runs once per accepted event.
  const bool revoke = record.kind == RecordKind::kRevoke;
  const std::size_t length = 1 + 8 + 4 + 8 + 4 + (1 + record.id.size()) +
                             (1 + record.subject.size()) + (2 + record.type.size()) +
                             (1 + record.source.size()) +
                             (revoke ? 2 + record.revokes.size() + record.reason.size() : 0) +
                             (revoke && !record.actor.empty() ? 1 + record.actor.size() : 0);
  const std::size_t start = out.size();
  out.resize(start + kRecordHeaderBytes + length);
  char* const payload = out.data() + start + kRecordHeaderBytes;
  char* at = payload;
  const auto put_raw = [&at](const void* bytes, std::size_t size) {
    std::memcpy(at, bytes, size);
    at += size;
  };
  const auto put_value = [&](auto value) { put_raw(&value, sizeof value); };
  const auto put_short = [&](std::string_view text) {
    put_value(static_cast<std::uint8_t>(text.size()));
    put_raw(text.data(), text.size());
  };
  put_value(static_cast<std::uint8_t>(record.kind));
  put_value(record.time_ms);
  put_value(record.points);
  put_value(record.expires_after_ms);
  put_value(record.rules_version);
  put_short(record.id);
  put_short(record.subject);
  put_value(static_cast<std::uint16_t>(record.type.size()));
  put_raw(record.type.data(), record.type.size());
  put_short(record.source);
  if (revoke) {
    put_short(record.revokes);
    put_short(record.reason);
    if (!record.actor.empty()) put_short(record.actor);
  }
  const auto length32 = static_cast<std::uint32_t>(length);
  const std::uint32_t crc = crc32c(payload, length);
  std::memcpy(out.data() + start, &length32, sizeof length32);
  std::memcpy(out.data() + start + 4, &crc, sizeof crc);
}

void append_alert_record(std::string& out, const Record& record) {
  std::string payload;
  put<std::uint8_t>(payload, static_cast<std::uint8_t>(RecordKind::kAlert));
  put<std::int64_t>(payload, record.time_ms);
  put<std::int64_t>(payload, record.score);
  put<std::uint8_t>(payload, record.by_expiry ? 1 : 0);
  put<std::uint64_t>(payload, record.origin.generation);
  put<std::uint32_t>(payload, record.origin.worker);
  put<std::uint64_t>(payload, record.origin.ordinal);
  put<std::uint8_t>(payload, static_cast<std::uint8_t>(record.id.size()));
  payload += record.id;
  put<std::uint8_t>(payload, static_cast<std::uint8_t>(record.subject.size()));
  payload += record.subject;
  put<std::uint16_t>(payload, static_cast<std::uint16_t>(record.tier_from.size()));
  payload += record.tier_from;
  put<std::uint16_t>(payload, static_cast<std::uint16_t>(record.tier_to.size()));
  payload += record.tier_to;
  put<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  put<std::uint32_t>(out, crc32c(payload.data(), payload.size()));
  out += payload;
}

void append_end_record(std::string& out, std::uint64_t count) {
  std::string payload;
  put<std::uint8_t>(payload, static_cast<std::uint8_t>(RecordKind::kEnd));
  put<std::uint64_t>(payload, count);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  put<std::uint32_t>(out, crc32c(payload.data(), payload.size()));
  out += payload;
}

const char* to_string(ReadStatus status) noexcept {
  switch (status) {
    case ReadStatus::kOk:
      return "ok";
    case ReadStatus::kEndOfData:
      return "end of data";
    case ReadStatus::kTruncated:
      return "record cut short";
    case ReadStatus::kBadLength:
      return "impossible record length";
    case ReadStatus::kBadChecksum:
      return "checksum mismatch";
    case ReadStatus::kBadPayload:
      return "inconsistent record";
  }
  return "?";
}

ReadStatus read_record(std::string_view data, std::size_t& offset, Record& record) noexcept {
  if (offset >= data.size()) return ReadStatus::kEndOfData;
  if (data.size() - offset < kRecordHeaderBytes) return ReadStatus::kTruncated;
  std::uint32_t length = 0;
  std::uint32_t crc = 0;
  std::memcpy(&length, data.data() + offset, sizeof length);
  std::memcpy(&crc, data.data() + offset + 4, sizeof crc);
  if (length == 0 || length > kMaxPayloadBytes) return ReadStatus::kBadLength;
  if (data.size() - offset - kRecordHeaderBytes < length) return ReadStatus::kTruncated;
  const std::string_view payload = data.substr(offset + kRecordHeaderBytes, length);
  if (crc32c(payload.data(), payload.size()) != crc) return ReadStatus::kBadChecksum;

  PayloadReader in(payload);
  record = Record{};
  record.kind = static_cast<RecordKind>(in.get<std::uint8_t>());
  if (record.kind == RecordKind::kEnd) {
    record.end_count = in.get<std::uint64_t>();
  } else if (record.kind == RecordKind::kEvent || record.kind == RecordKind::kRevoke) {
    record.time_ms = in.get<std::int64_t>();
    record.points = in.get<std::int32_t>();
    record.expires_after_ms = in.get<std::int64_t>();
    record.rules_version = in.get<std::uint32_t>();
    record.id = in.string<std::uint8_t>();
    record.subject = in.string<std::uint8_t>();
    record.type = in.string<std::uint16_t>();
    record.source = in.string<std::uint8_t>();
    if (record.kind == RecordKind::kRevoke) {
      record.revokes = in.string<std::uint8_t>();
      record.reason = in.string<std::uint8_t>();
      if (!in.finished()) record.actor = in.string<std::uint8_t>();
    }
    if (record.id.empty() || record.subject.empty() || record.id.size() > kMaxIdBytes ||
        record.subject.size() > kMaxSubjectBytes || record.source.size() > kMaxSourceBytes ||
        record.revokes.size() > kMaxIdBytes || record.actor.size() > kMaxActorBytes) {
      return ReadStatus::kBadPayload;
    }
  } else if (record.kind == RecordKind::kAlert) {
    record.time_ms = in.get<std::int64_t>();
    record.score = in.get<std::int64_t>();
    record.by_expiry = in.get<std::uint8_t>() != 0;
    record.origin.generation = in.get<std::uint64_t>();
    record.origin.worker = in.get<std::uint32_t>();
    record.origin.ordinal = in.get<std::uint64_t>();
    record.id = in.string<std::uint8_t>();
    record.subject = in.string<std::uint8_t>();
    record.tier_from = in.string<std::uint16_t>();
    record.tier_to = in.string<std::uint16_t>();
    if (record.id.empty() || record.subject.empty() || record.id.size() > kMaxIdBytes ||
        record.subject.size() > kMaxSubjectBytes || record.origin.ordinal == 0) {
      return ReadStatus::kBadPayload;
    }
  } else {
    return ReadStatus::kBadPayload;
  }
  if (!in.finished()) return ReadStatus::kBadPayload;
  offset += kRecordHeaderBytes + length;
  return ReadStatus::kOk;
}

}  // namespace tally::storage::journal
