// Replaces a subject id by a keyed hash before it leaves the adapter, so the
// scorer never sees a raw plate or person id, while every event of one
// subject still lands on one pseudonym.
//
// Pseudonym: the subject's kind (the text before its first ':', when that is
// 1-16 letters, digits, '_' or '-') is kept, so rules and dashboards can still
// tell plates from people; the rest becomes "k" + 32 hex digits of the 16-byte
// keyed BLAKE2b (libsodium crypto_generichash) of the whole subject:
//   plate:NY:ABC1234  ->  plate:k3f0c…(32 hex)
// Same key and subject: same pseudonym, on any machine. Without the key the
// pseudonym cannot be computed from a plate, so a list of plates cannot be
// turned into pseudonyms by someone who holds only Tally's data.
//
// Key file: 32 random bytes written as 64 hexadecimal digits on one line
// (surrounding whitespace and a trailing newline are ignored). Generate one:
//   openssl rand -hex 32 > tally.key      (or: head -c 32 /dev/urandom | xxd -p -c 64)
// Keep it like a password: anyone with it can test a guessed plate.
//
// Thread-safety: const methods may be called from any thread.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tally::adapters {

class Pseudonymiser {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  explicit Pseudonymiser(const std::array<unsigned char, kKeyBytes>& key);

  // Reads a key file; refused with what is wrong with it.
  static Result<Pseudonymiser> from_key_file(const std::string& path);
  // Parses the key file's text (64 hex digits).
  static Result<Pseudonymiser> from_hex(std::string_view text);

  std::string pseudonym(std::string_view subject) const;

 private:
  std::array<unsigned char, kKeyBytes> key_;
};

}  // namespace tally::adapters
