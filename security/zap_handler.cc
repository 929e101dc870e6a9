#include "security/zap_handler.h"

#include <spdlog/spdlog.h>

#include <array>
#include <vector>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::security {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

std::string_view door_name(Door door) { return kDoorNames[static_cast<std::size_t>(door)]; }

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, const AccessRegistry& registry,
                       AuthCounters& counters)
    : context_(context),
      registry_(registry),
      socket_(context, zmq::socket_type::rep),
      counters_(counters) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(kZapEndpoint);
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::run() {
  std::vector<zmq::message_t> request;
  while (!stop_.load(std::memory_order_acquire)) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    const Result<int> ready = poll_sockets({&item, 1}, std::chrono::milliseconds(100));
    if (!ready || *ready == 0) continue;
    request.clear();
    if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
      continue;
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    if (request.size() < 6) continue;
    const std::string domain = request[2].to_string();
    const std::string address = request[3].to_string();
    const std::string mechanism = request[5].to_string();
    std::string status = "400";
    std::string text = "unknown key";
    std::string user;
    if (mechanism == "CURVE" && request.size() == 7 && request[6].size() == 32) {
      std::array<char, kZ85KeyChars + 1> key{};
      zmq_z85_encode(key.data(), request[6].data<std::uint8_t>(), 32);
      const std::shared_ptr<const AccessList> list = registry_.current();
      const Client* client = list->by_key(std::string_view(key.data(), kZ85KeyChars));
      Door door = Door::kQuery;
      bool known_door = false;
      for (std::size_t i = 0; i < kDoorNames.size(); ++i) {
        if (domain == kDoorNames[i]) {
          door = static_cast<Door>(i);
          known_door = true;
        }
      }
      if (client != nullptr && known_door && AccessList::may_enter(client->roles, door)) {
        status = "200";
        text = "OK";
        user = client->name;
      } else if (client != nullptr) {
        text = "roles do not open this socket";
        spdlog::warn("auth: client `{}` (roles {}) from {} refused at the {} socket", client->name,
                     roles_text(client->roles), address, door_name(door));
      } else {
        spdlog::warn("auth: unknown key {} from {} refused at the {} socket",
                     std::string_view(key.data(), 8), address, domain);
      }
    } else {
      text = "CURVE only";
    }
    (status == "200" ? counters_.allowed : counters_.denied)
        .fetch_add(1, std::memory_order_relaxed);
    const std::array<zmq::const_buffer, 6> reply = {
        zmq::str_buffer("1.0"), zmq::buffer(request[1].data(), request[1].size()),
        zmq::buffer(status),    zmq::buffer(text),
        zmq::buffer(user),      zmq::const_buffer()};
    (void)zmq::send_multipart(socket_, reply, zmq::send_flags::dontwait);
  }
}

void secure_server_socket(zmq::socket_t& socket, const AccessList& list, Door door) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, list.server_secret_key().z85());
  socket.set(zmq::sockopt::zap_domain, std::string(door_name(door)));
}

std::string_view sender_of(const zmq::message_t& message) {
  const char* user = zmq_msg_gets(message.handle(), "User-Id");
  return user == nullptr ? std::string_view() : std::string_view(user);
}

}  // namespace tally::security
