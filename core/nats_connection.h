// A connection to NATS with its JetStream context, owned (RAII) and
// Result-returning: the one way Tally's parts talk to NATS (the publisher,
// the stream admin, tallyd's JetStream source).
//
// Owns: the natsConnection and its jsCtx; both are destroyed with it.
// Reconnects: NATS's client reconnects on its own, to any URL given or
// learnt from the cluster, for as long as the connection lives
// (max_reconnect -1); a request made while it is away fails with
// kUnavailable and the caller retries (message ids and event ids make that
// safe).
//
// Thread-safety: the underlying client is thread-safe; a Connection may be
// used from several threads, and destroyed by one once the others stopped.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tally::nats {

struct ConnectOptions {
  // Server URLs, e.g. nats://127.0.0.1:4222. At least one.
  std::vector<std::string> urls;
  // Shown by the server (connz); helps an operator tell clients apart.
  std::string name = "tally";
  // Longest a connection attempt or a JetStream API request may take.
  // Default 5 s (a leader election in a three-server cluster takes ~2 s).
  std::chrono::milliseconds timeout{5000};
  // Wait between reconnection attempts. Default 250 ms.
  std::chrono::milliseconds reconnect_wait{250};
  // Keep trying the first connection for this long before giving up (the
  // servers may still be starting). Default 0: fail at once.
  std::chrono::milliseconds first_connect_patience{0};
};

// "nats://a:4222,nats://b:4222" -> its URLs; refuses an empty list.
Result<std::vector<std::string>> parse_urls(std::string_view comma_separated);

// A natsStatus (and, for JetStream API calls, its error code) as a Status:
// kNotFound for a missing stream or consumer, kUnavailable for timeouts and
// lost connections, kInvalidArgument otherwise. `doing` is prefixed.
Status status_of(natsStatus status, std::string_view doing, jsErrCode js_error = jsErrCode(0));

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> connect(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  natsConnection* get() const noexcept { return connection_; }
  jsCtx* jetstream() const noexcept { return jetstream_; }
  // The server this connection is on now ("" while reconnecting).
  std::string connected_url() const;
  bool connected() const noexcept;
  const ConnectOptions& options() const noexcept { return options_; }
  // A jsOptions with this connection's timeout, for API calls.
  jsOptions api_options() const;

 private:
  Connection(ConnectOptions options, natsConnection* connection, jsCtx* jetstream)
      : options_(std::move(options)), connection_(connection), jetstream_(jetstream) {}
  ConnectOptions options_;
  natsConnection* connection_;
  jsCtx* jetstream_;
};

// Owners of what the client library hands out.
struct MsgDeleter {
  void operator()(natsMsg* message) const noexcept { natsMsg_Destroy(message); }
};
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;
struct StreamInfoDeleter {
  void operator()(jsStreamInfo* info) const noexcept { jsStreamInfo_Destroy(info); }
};
using StreamInfo = std::unique_ptr<jsStreamInfo, StreamInfoDeleter>;
struct ConsumerInfoDeleter {
  void operator()(jsConsumerInfo* info) const noexcept { jsConsumerInfo_Destroy(info); }
};
using ConsumerInfo = std::unique_ptr<jsConsumerInfo, ConsumerInfoDeleter>;
struct SubscriptionDeleter {
  void operator()(natsSubscription* subscription) const noexcept {
    natsSubscription_Destroy(subscription);
  }
};
using Subscription = std::unique_ptr<natsSubscription, SubscriptionDeleter>;

// A stream's info; kNotFound when there is no such stream.
Result<StreamInfo> stream_info(const Connection& connection, const std::string& stream);

}  // namespace tally::nats
