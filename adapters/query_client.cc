#include "adapters/query_client.h"

#include <array>
#include <vector>
#include <zmq_addon.hpp>

namespace tally::adapters {

QueryClient::QueryClient(zmq::context_t& context, std::string endpoint,
                         std::chrono::milliseconds timeout)
    : context_(context), endpoint_(std::move(endpoint)), timeout_(timeout) {
  connect();
}

void QueryClient::connect() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.connect(endpoint_);
}

std::optional<std::string> QueryClient::request(const std::string& json) {
  std::array<zmq::const_buffer, 2> frames = {zmq::const_buffer(), zmq::buffer(json)};
  if (!zmq::send_multipart(socket_, frames, zmq::send_flags::dontwait)) {
    connect();
    return std::nullopt;
  }
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout_) <= 0) {
    connect();
    return std::nullopt;
  }
  std::vector<zmq::message_t> reply;
  if (!zmq::recv_multipart(socket_, std::back_inserter(reply)) || reply.empty()) {
    connect();
    return std::nullopt;
  }
  return reply.back().to_string();
}

}  // namespace tally::adapters
