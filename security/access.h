// Who may do what: the clients tallyd knows (the --auth file), their roles,
// and what each role allows. The ZAP handler (zap_handler.h) lets in only
// known keys; the ingest and query paths then check each message against
// the roles of the client that sent it.
//
// The auth file (TOML):
//   server_secret_key_file = "server.key"    # `tally keygen`; relative to this file
//   [[client]]
//   name = "camera-gateway-7"                # unique; recorded with its revokes
//   public_key = "<40-char Z85>"
//   roles = ["producer"]                     # producer, appeals, reader, operator
//
// Roles, each independent of the others:
//   producer   send events (not revokes) to the ingest and submit sockets
//   appeals    send revokes
//   reader     score, explain, history, top, stats, workers (without set),
//              alerts (the op, and subscribing to the alerts socket)
//   operator   reload, snapshot, workers with set, impact
//
// Thread-safety: an AccessList is immutable once loaded; the daemon swaps
// the whole list on a reload (AccessRegistry).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/protocol.h"
#include "core/status.h"
#include "security/curve_keys.h"

namespace tally::security {

enum class Role : std::uint8_t { kProducer, kAppeals, kReader, kOperator };
inline constexpr std::array<std::string_view, 4> kRoleNames = {"producer", "appeals", "reader",
                                                               "operator"};
using Roles = std::uint8_t;  // a bit per Role
constexpr Roles bit(Role role) noexcept { return static_cast<Roles>(1u << static_cast<int>(role)); }
inline bool has(Roles roles, Role role) noexcept { return (roles & bit(role)) != 0; }
std::string roles_text(Roles roles);

struct Client {
  std::string name;
  std::string public_key;  // Z85
  Roles roles = 0;
};

// The sockets tallyd serves, as ZAP domains: a handshake is let in only for
// a known key whose roles can use that socket at all.
enum class Door : std::uint8_t { kIngest, kSubmit, kQuery, kAlerts };
inline constexpr std::array<std::string_view, 4> kDoorNames = {"ingest", "submit", "query",
                                                               "alerts"};

class AccessList {
 public:
  // Reads an auth file; every refusal names the file (and line where it can).
  static Result<std::shared_ptr<const AccessList>> load(const std::string& path);

  const SecretKey& server_secret_key() const noexcept { return server_secret_; }
  const std::string& server_public_key() const noexcept { return server_public_; }
  const std::vector<Client>& clients() const noexcept { return clients_; }
  // The client with this Z85 public key, or null.
  const Client* by_key(std::string_view public_key) const;
  // The roles of the client of this name (a connection's ZAP user id); 0
  // for a name no longer in the list (removed by a reload: shut out).
  Roles roles_of(std::string_view name) const;

  // Whether a client with `roles` may connect to `door` at all.
  static bool may_enter(Roles roles, Door door) noexcept;
  // Whether it may send events (revoke = false) or revokes.
  static bool may_send(Roles roles, bool revoke) noexcept {
    return has(roles, revoke ? Role::kAppeals : Role::kProducer);
  }
  // Whether it may ask `request`; forbidden (api::ErrorCode::kForbidden)
  // naming the role needed, otherwise ok.
  static Status may_ask(Roles roles, std::string_view client, const api::Request& request);

 private:
  SecretKey server_secret_;
  std::string server_public_;
  std::vector<Client> clients_;
  absl::flat_hash_map<std::string, std::size_t> by_key_;
  absl::flat_hash_map<std::string, std::size_t> by_name_;
};

// The list in force, swapped whole by a reload. Readers on hot paths keep a
// copy (AccessView) and take the new one only when the generation moved.
class AccessRegistry {
 public:
  explicit AccessRegistry(std::shared_ptr<const AccessList> list) : list_(std::move(list)) {}
  void replace(std::shared_ptr<const AccessList> list);
  std::shared_ptr<const AccessList> current() const;
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AccessList> list_;
  std::atomic<std::uint64_t> generation_{0};
};

// One thread's view of the registry: one atomic load per use.
class AccessView {
 public:
  explicit AccessView(const AccessRegistry& registry)
      : registry_(registry), seen_(registry.generation()), list_(registry.current()) {}
  const AccessList& get() {
    if (const std::uint64_t now = registry_.generation(); now != seen_) {
      seen_ = now;
      list_ = registry_.current();
    }
    return *list_;
  }

 private:
  const AccessRegistry& registry_;
  std::uint64_t seen_;
  std::shared_ptr<const AccessList> list_;
};

}  // namespace tally::security
