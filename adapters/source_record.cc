#include "adapters/source_record.h"

namespace tally::adapters {

void append_field_key(std::string& out, std::string_view text) {
  bool pending_separator = false;
  const std::size_t start = out.size();
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= '0' && byte <= '9') || ((byte | 0x20) >= 'a' && (byte | 0x20) <= 'z')) {
      if (pending_separator && out.size() > start) out.push_back('_');
      pending_separator = false;
      out.push_back(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
    } else {
      pending_separator = true;
    }
  }
}

std::string field_key(std::string_view text) {
  std::string out;
  append_field_key(out, text);
  return out;
}

std::string lower_trimmed(std::string_view text) {
  std::string out(trim_value(text));
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace tally::adapters
