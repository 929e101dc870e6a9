// Counts the connections a listening socket accepts and loses, from
// ZeroMQ's socket monitor: producers reconnecting in a loop, a client that
// never comes back, and messages refused for their size show there.
//
// A message over --max-message-bytes is refused inside libzmq, which drops
// the sender's connection without handing tallyd anything, and its monitor
// reports that as a close like any other (libzmq 4.3 has no event of its
// own for it). So a size refusal is counted as a close; closes that outrun
// the clients an operator knows of are the sign to look for.
//
// Thread-safety: the owning thread (the watched socket's) only; counters
// are written there and read anywhere.
#pragma once

#include <string>
#include <string_view>
#include <zmq.hpp>

#include "core/ingest_counters.h"

namespace tally::stream {

class PeerWatch {
 public:
  // Starts monitoring `watched` (before it binds, so that no connection is
  // missed); `name` tells the monitor's endpoint apart.
  PeerWatch(zmq::context_t& context, zmq::socket_t& watched, std::string_view name);
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  // For the owner's poll set: readable when events wait.
  zmq::pollitem_t poll_item() noexcept { return {events_.handle(), 0, ZMQ_POLLIN, 0}; }
  // Reads every waiting event into `counts`, without blocking.
  void take(ConnectionCounts& counts);

 private:
  std::string endpoint_;
  zmq::socket_t events_;
};

}  // namespace tally::stream
