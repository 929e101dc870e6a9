#include "security/curve_client.h"

namespace tally::security {

Result<std::shared_ptr<const CurveCredentials>> load_credentials(const std::string& key_file,
                                                                 const std::string& server_key) {
  if (key_file.empty() && server_key.empty()) return std::shared_ptr<const CurveCredentials>();
  if (key_file.empty() || server_key.empty()) {
    return Status::invalid_argument(
        "--key and --server-key go together: this client's secret key file and the server's "
        "public key (tallyd prints it at start)");
  }
  auto credentials = std::make_shared<CurveCredentials>();
  Result<SecretKey> secret = read_secret_key_file(key_file);
  if (!secret) return secret.status().with_context("--key");
  credentials->secret_key = std::move(secret).value();
  Result<std::string> public_key = public_key_of(credentials->secret_key);
  if (!public_key) return public_key.status().with_context("--key " + key_file);
  credentials->public_key = std::move(public_key).value();
  Result<std::string> server = read_public_key(server_key);
  if (!server) return server.status().with_context("--server-key");
  credentials->server_key = std::move(server).value();
  return std::shared_ptr<const CurveCredentials>(std::move(credentials));
}

void secure_client_socket(zmq::socket_t& socket, const CurveCredentials* credentials) {
  if (credentials == nullptr) return;
  socket.set(zmq::sockopt::curve_serverkey, credentials->server_key);
  socket.set(zmq::sockopt::curve_publickey, credentials->public_key);
  socket.set(zmq::sockopt::curve_secretkey, credentials->secret_key.z85());
}

}  // namespace tally::security
