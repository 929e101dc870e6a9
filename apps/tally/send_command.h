// `tally send FILE...|-`: publishes NDJSON events, fire-and-forget or as
// acknowledged batches, and sums up what tallyd took.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "apps/tally/client_options.h"

namespace tally::cli {

class SendCommand {
 public:
  // Registers `send` on `app`; binds its flags to this object, which must
  // outlive parsing and stay where it is.
  explicit SendCommand(CLI::App& app);
  SendCommand(const SendCommand&) = delete;
  SendCommand& operator=(const SendCommand&) = delete;

  bool parsed() const { return command_->parsed(); }
  // Returns the exit code: 0 all sent (and, with --ack, acknowledged); 1 some
  // batch unacknowledged; 2 no connection or an unreadable file.
  int run(zmq::context_t& context, const ClientOptions& options) const;

 private:
  CLI::App* command_;
  std::vector<std::string> files_;
  bool ack_ = false;
  std::size_t batch_ = 1000;
  double ack_timeout_s_ = 2;
  int attempts_ = 10;
  std::string nats_;  // --nats: publish into the stream instead (cluster_command.h)
  std::string stream_ = "TALLY";
};

}  // namespace tally::cli
