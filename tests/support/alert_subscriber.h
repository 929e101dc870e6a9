// A subscriber to tallyd's alerts, for tests.
//
// PUB/SUB joins asynchronously: alerts published before the subscription
// reaches tallyd are lost to it. join() therefore makes tallyd alert (by
// the test's `probe`) until one is heard. Alerts of the probes can still
// arrive after it, so a test reads the ones it cares about by subject
// (next_about), never simply the next one.
//
// Thread-safety: one thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace tally::testing {

class AlertSubscriber {
 public:
  struct Alert {
    std::string tier;  // the first frame: the tier entered
    std::string body;  // the JSON body
    std::string subject;
  };

  AlertSubscriber(zmq::context_t& context, const std::string& endpoint);

  // Calls probe(attempt) (something that makes tallyd alert), waits a
  // little for an alert, and again, until one is heard (true) or `timeout`
  // passes (false).
  bool join(const std::function<void(int attempt)>& probe,
            std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The next alert, whatever its subject; nullopt if none in `timeout`.
  std::optional<Alert> next(std::chrono::milliseconds timeout);
  // The next alert about `subject`, skipping others.
  std::optional<Alert> next_about(std::string_view subject,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  zmq::socket_t socket_;
};

}  // namespace tally::testing
