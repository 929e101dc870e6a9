// ZeroMQ's authentication (ZAP, RFC 27) for every CURVE socket of a context.
//
// A socket made a CURVE server (secure_server_socket) asks this handler, at
// each connection's handshake, whether the client's public key may in: only
// a key of the access list whose roles can use that socket at all (its ZAP
// domain, a Door) gets through; the answer's user id is the client's name,
// which every message of the connection then carries ("User-Id"), so the
// ingest and query paths can check each message against the roles in force.
// A connection with no valid key never delivers a message.
//
// Thread-safety: one thread of its own answers and counts; the registry may
// be replaced from any thread (a reload).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <zmq.hpp>

#include "core/auth_counters.h"
#include "security/access.h"

namespace tally::security {

class ZapHandler {
 public:
  // Binds the context's ZAP endpoint and starts answering. Must be made
  // before any CURVE server socket of `context` takes a connection, and
  // outlive them. Throws zmq::error_t if the endpoint is taken.
  ZapHandler(zmq::context_t& context, const AccessRegistry& registry, AuthCounters& counters);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  void run();

  zmq::context_t& context_;
  const AccessRegistry& registry_;
  zmq::socket_t socket_;
  AuthCounters& counters_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Makes `socket` a CURVE server with the list's key, asking ZAP with `door`
// as its domain. Before bind().
void secure_server_socket(zmq::socket_t& socket, const AccessList& list, Door door);

// The name of the client that sent `message` (its connection's ZAP user id);
// empty when the socket is not authenticated.
std::string_view sender_of(const zmq::message_t& message);

}  // namespace tally::security
