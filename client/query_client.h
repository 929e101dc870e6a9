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
// Signals: a wait interrupted by one (EINTR) goes on until the timeout; a
// program that wants to stop on a signal takes them with a SignalWatcher
// (core/signal_watcher.h), so that they never interrupt this thread.
//
// Thread-safety: none; one QueryClient per thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "core/status.h"
#include "security/curve_client.h"

namespace tally::client {

class QueryClient {
 public:
  // Connects (ZeroMQ connects lazily: no daemon is needed yet). Throws
  // zmq::error_t for an endpoint ZeroMQ cannot parse.
  // `curve`: this client's credentials for tallyd --auth (null: a plain socket).
  QueryClient(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout,
              std::shared_ptr<const security::CurveCredentials> curve = nullptr);

  // The answer's body; or kUnavailable when none came within the timeout,
  // its message fit for a user: "no answer from tcp://... within 5s (is
  // tallyd running?)".
  Result<std::string> request(std::string_view json);

  const std::string& endpoint() const noexcept { return endpoint_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

 private:
  void connect();
  Status give_up();

  zmq::context_t& context_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<const security::CurveCredentials> curve_;
  zmq::socket_t socket_;
};

}  // namespace tally::client
