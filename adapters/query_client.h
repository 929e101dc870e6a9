// Asks tallyd's query socket one JSON request at a time.
//
// Uses a DEALER that sends the same envelope as a REQ socket ("" then the
// body), so it can time out and carry on: after a timeout the socket is
// replaced, so that a late answer can never be taken for the next one's.
//
// Thread-safety: one QueryClient per thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>

namespace tally::adapters {

class QueryClient {
 public:
  QueryClient(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout);
  // The answer, or nullopt if none came within the timeout.
  std::optional<std::string> request(const std::string& json);
  const std::string& endpoint() const noexcept { return endpoint_; }

 private:
  void connect();
  zmq::context_t& context_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  zmq::socket_t socket_;
};

}  // namespace tally::adapters
