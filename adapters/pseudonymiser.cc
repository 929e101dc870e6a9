#include "adapters/pseudonymiser.h"

#include <fmt/format.h>
#include <sodium.h>

#include <cctype>
#include <stdexcept>

#include "adapters/byte_source.h"

namespace tally::adapters {

namespace {
constexpr std::size_t kHashBytes = 16;
constexpr std::size_t kMaxKindBytes = 16;
}  // namespace

Pseudonymiser::Pseudonymiser(const std::array<unsigned char, kKeyBytes>& key) : key_(key) {
  if (::sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

Result<Pseudonymiser> Pseudonymiser::from_hex(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  std::array<unsigned char, kKeyBytes> key{};
  std::size_t length = 0;
  if (text.size() != kKeyBytes * 2 ||
      ::sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &length,
                       nullptr) != 0 ||
      length != kKeyBytes) {
    return Status::invalid_argument(fmt::format(
        "a key is {} hexadecimal digits ({} random bytes) on one line; this holds {} characters "
        "(make one with: openssl rand -hex 32)",
        kKeyBytes * 2, kKeyBytes, text.size()));
  }
  return Pseudonymiser(key);
}

Result<Pseudonymiser> Pseudonymiser::from_key_file(const std::string& path) {
  // A key is 64 hex digits; a file much larger is not one.
  Result<std::string> text = read_small_file(path, 4096);
  if (!text) {
    return Status::invalid_argument(
        fmt::format("cannot read key file {}: {}", path, text.status().message()));
  }
  Result<Pseudonymiser> result = from_hex(*text);
  ::sodium_memzero(text->data(), text->size());
  if (!result) return result.status().with_context(fmt::format("key file {}", path));
  return result;
}

std::string Pseudonymiser::pseudonym(std::string_view subject) const {
  std::array<unsigned char, kHashBytes> hash{};
  ::crypto_generichash(hash.data(), hash.size(),
                       reinterpret_cast<const unsigned char*>(subject.data()), subject.size(),
                       key_.data(), key_.size());
  std::string out;
  const auto colon = subject.find(':');
  if (colon != std::string_view::npos && colon >= 1 && colon <= kMaxKindBytes) {
    const std::string_view kind = subject.substr(0, colon);
    bool plain = true;
    for (const char c : kind) {
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-');
    }
    if (plain) out.append(kind).push_back(':');
  }
  out.push_back('k');
  char hex[kHashBytes * 2 + 1];
  ::sodium_bin2hex(hex, sizeof hex, hash.data(), hash.size());
  out.append(hex, kHashBytes * 2);
  return out;
}

}  // namespace tally::adapters
