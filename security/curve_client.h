// A client's side of tallyd --auth: its own key pair and the server's public
// key, applied to each socket it connects with.
//
//   tally score S --key reader.key --server-key server.pub
//
// Thread-safety: immutable once loaded; shared by the sockets of a program.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "core/status.h"
#include "security/curve_keys.h"

namespace tally::security {

struct CurveCredentials {
  SecretKey secret_key;
  std::string public_key;  // derived from the secret key
  std::string server_key;  // the server's public key
};

// From --key FILE (a .key file) and --server-key KEY|FILE: null when both are
// empty (a daemon without --auth); refused, naming the flag, when one is
// given without the other or either cannot be read.
Result<std::shared_ptr<const CurveCredentials>> load_credentials(const std::string& key_file,
                                                                 const std::string& server_key);

// Makes `socket` a CURVE client with `credentials` (before connect()); does
// nothing for null.
void secure_client_socket(zmq::socket_t& socket, const CurveCredentials* credentials);

}  // namespace tally::security
