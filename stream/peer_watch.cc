#include "stream/peer_watch.h"

#include <fmt/format.h>
#include <zmq.h>

#include <cstring>
#include <stdexcept>

namespace tally::stream {

PeerWatch::PeerWatch(zmq::context_t& context, zmq::socket_t& watched, std::string_view name)
    : endpoint_(fmt::format("inproc://tally-peers-{}-{}", name, static_cast<const void*>(this))),
      events_(context, zmq::socket_type::pair) {
  if (zmq_socket_monitor(watched.handle(), endpoint_.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw std::runtime_error(
        fmt::format("cannot monitor the {} socket: {}", name, zmq_strerror(zmq_errno())));
  }
  events_.set(zmq::sockopt::linger, 0);
  events_.connect(endpoint_);
}

void PeerWatch::take(ConnectionCounts& counts) {
  // Each event is two frames: a 16-bit event id and a 32-bit value, then the
  // endpoint.
  while (true) {
    zmq::message_t event;
    if (!events_.recv(event, zmq::recv_flags::dontwait)) return;
    zmq::message_t endpoint;
    if (event.more()) (void)events_.recv(endpoint, zmq::recv_flags::dontwait);
    if (event.size() < sizeof(std::uint16_t)) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::atomic<std::uint64_t>& counter =
        id == ZMQ_EVENT_ACCEPTED ? counts.accepted : counts.closed;
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

}  // namespace tally::stream
