#include "client/query_client.h"

#include <fmt/format.h>

#include <array>
#include <vector>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::client {

QueryClient::QueryClient(zmq::context_t& context, std::string endpoint,
                         std::chrono::milliseconds timeout,
                         std::shared_ptr<const security::CurveCredentials> curve)
    : context_(context),
      endpoint_(std::move(endpoint)),
      timeout_(timeout),
      curve_(std::move(curve)) {
  connect();
}

void QueryClient::connect() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  // Nothing left to deliver matters once we have given up on an answer.
  socket_.set(zmq::sockopt::linger, 0);
  security::secure_client_socket(socket_, curve_.get());
  socket_.connect(endpoint_);
}

Status QueryClient::give_up() {
  connect();  // a late answer goes to the closed socket, not to the next request
  return Status::unavailable(fmt::format("no answer from {} within {:g}s (is tallyd running?)",
                                         endpoint_,
                                         static_cast<double>(timeout_.count()) / 1000.0));
}

Result<std::string> QueryClient::request(std::string_view json) {
  // [delimiter, body]: the REQ envelope, so the ROUTER sees [identity, "", body].
  const std::array<zmq::const_buffer, 2> frames = {zmq::const_buffer(), zmq::buffer(json)};
  if (!zmq::send_multipart(socket_, frames, zmq::send_flags::dontwait)) return give_up();
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return give_up();
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    const Result<int> ready = poll_sockets({&item, 1}, left);
    if (!ready) return ready.status();
    if (*ready > 0) break;
  }
  std::vector<zmq::message_t> reply;
  if (!zmq::recv_multipart(socket_, std::back_inserter(reply), zmq::recv_flags::dontwait) ||
      reply.empty()) {
    return give_up();
  }
  // ["", body] from tallyd; the body is the last frame whatever the envelope.
  return reply.back().to_string();
}

}  // namespace tally::client
