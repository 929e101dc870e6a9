// Asks tallyd's query socket one JSON request at a time.
//
// tallyd's query socket is a ROUTER that serves REQ and DEALER clients alike:
// it answers whatever envelope it got. This client is a DEALER that sends the
// envelope a REQ socket would (an empty delimiter frame, then the body), so
// tallyd sees [identity, "", body] either way; unlike REQ it can give up on an
// answer and carry on. After a timeout the socket is closed and a new one
// connected (a new identity), so a late answer can never be taken for the
// next request's.
//
// Thread-safety: none; one QueryClient per thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace tally::adapters {

class QueryClient {
 public:
  // Connects (ZeroMQ connects lazily: no daemon is needed yet). Throws
  // zmq::error_t for an endpoint ZeroMQ cannot parse.
  QueryClient(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout);

  // The answer's body, or nullopt if none came within the timeout; then
  // last_error() says so in words fit for a user.
  std::optional<std::string> request(std::string_view json);

  const std::string& endpoint() const noexcept { return endpoint_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }
  // "no answer from tcp://... within 5s (is tallyd running?)" after a failed request.
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  void connect();
  std::optional<std::string> give_up();

  zmq::context_t& context_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  zmq::socket_t socket_;
  std::string last_error_;
};

}  // namespace tally::adapters
