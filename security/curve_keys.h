// CURVE keys (ZeroMQ's CurveZMQ) as Tally keeps them: 40 characters of Z85
// text, in files an operator can copy between machines.
//
// Key files: NAME.key holds a secret key, NAME.pub the public key, each the
// 40 characters and a newline. A secret key file is read only if neither
// group nor others may read it, and at most kMaxKeyFileBytes of it; the
// public key is always derived from the secret one, so the two can never
// disagree. Secrets are wiped from memory when the caller is done with them
// (SecretKey's destructor).
//
// Thread-safety: free functions; a SecretKey is a plain owner.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tally::security {

inline constexpr std::size_t kZ85KeyChars = 40;
// A key file is 41 bytes; anything much larger is not one (and is not read
// whole: /dev/zero would never end).
inline constexpr std::size_t kMaxKeyFileBytes = 4096;

// A secret key's Z85 text, zeroed when it goes.
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(std::string z85) : z85_(std::move(z85)) {}
  ~SecretKey();
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  const std::string& z85() const noexcept { return z85_; }
  bool empty() const noexcept { return z85_.empty(); }

 private:
  std::string z85_;
};

struct KeyPair {
  std::string public_key;  // Z85
  SecretKey secret_key;
};

// True for 40 characters of the Z85 alphabet.
bool is_z85_key(std::string_view text) noexcept;

// A new key pair from the system's randomness (libsodium through libzmq).
Result<KeyPair> generate_key_pair();
// The public key of a secret key; invalid_argument if it is not one.
Result<std::string> public_key_of(const SecretKey& secret);

// Reads a secret key file (NAME.key). Refused, naming the file: missing or
// unreadable, readable by group or others ("chmod 600 FILE"), over
// kMaxKeyFileBytes, or not a key.
Result<SecretKey> read_secret_key_file(const std::string& path);
// A public key given as itself (40 Z85 characters) or as a file holding it
// (NAME.pub, at most kMaxKeyFileBytes).
Result<std::string> read_public_key(const std::string& key_or_file);

// A small secret file other than a key (a password): the same checks as
// a secret key file (owner-only, at most kMaxKeyFileBytes), its first line.
Result<SecretKey> read_secret_line_file(const std::string& path);

// Writes PREFIX.key (mode 0600) and PREFIX.pub (0644), each the key and a
// newline; refuses to overwrite either.
Status write_key_files(const std::string& prefix, const KeyPair& pair);

// Overwrites `text`'s bytes with zeros (not optimised away), then clears it.
void wipe(std::string& text) noexcept;

}  // namespace tally::security
