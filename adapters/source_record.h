// One input record as a mapping sees it: named values, whatever the source
// format (a CSV row under its header, or a JSON object).
//
// Names are normalised (field_key): lower case, each run of characters other
// than letters and digits replaced by one '_', trimmed of '_'. So the CSV
// header "Summons Number" and the JSON key "summons_number" are one field, and
// one mapping reads both forms of an export.
//
// Thread-safety: a plain view; it points into its reader's buffers and is
// valid until the reader's next record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tally::adapters {

// Lower case; each run of non-alphanumeric characters becomes one '_';
// leading and trailing '_' dropped. "PHTO SCHOOL ZN SPEED VIOLATION" ->
// "phto_school_zn_speed_violation"; "REG. STICKER-EXPIRED/MISSING" ->
// "reg_sticker_expired_missing". Bytes >= 0x80 count as "other characters".
std::string field_key(std::string_view text);
void append_field_key(std::string& out, std::string_view text);

// ASCII case without the C library's locale lookups (a measured hot spot).
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}
constexpr char ascii_upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

// A value as mappings read it: without surrounding spaces and tabs.
constexpr std::string_view trim_value(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Trimmed and in lower case: how decisions and speed codes are compared.
std::string lower_trimmed(std::string_view text);

struct SourceRecord {
  // Normalised names, one per value. For CSV rows this is the header, the
  // same vector for every row until the header changes (keys_version says
  // when), so a mapping can resolve columns once per header.
  const std::vector<std::string>* keys = nullptr;
  const std::vector<std::string_view>* values = nullptr;
  // Per value: true if it is JSON text to embed as it is (a JSON number,
  // boolean, object or array); false for plain text. Null for CSV (all text).
  const std::vector<bool>* raw_json = nullptr;
  // Changes whenever `keys` changes; 0 means "may differ on every record"
  // (JSON objects).
  std::uint64_t keys_version = 0;
};

}  // namespace tally::adapters
