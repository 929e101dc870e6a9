// `tally revoke SUBJECT EVENT_ID --reason TEXT`: the appeal path. One
// `revoke` event on the acknowledged socket; its id defaults to
// `revoke:<EVENT_ID>`, so sending the same appeal twice records it once.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <zmq.hpp>

#include "apps/tally/client_options.h"

namespace tally::cli {

class RevokeCommand {
 public:
  // Registers `revoke` on `app`; binds its flags to this object, which must
  // outlive parsing and stay where it is.
  explicit RevokeCommand(CLI::App& app);
  RevokeCommand(const RevokeCommand&) = delete;
  RevokeCommand& operator=(const RevokeCommand&) = delete;

  bool parsed() const { return command_->parsed(); }
  // Returns the exit code: 0 recorded (or already recorded); 1 rejected;
  // 2 not acknowledged.
  int run(zmq::context_t& context, const ClientOptions& options) const;

 private:
  // The revoke event, one NDJSON line (the brief's event contract).
  std::string event_line(const std::string& id) const;

  CLI::App* command_;
  std::string subject_;
  std::string event_id_;
  std::string reason_;
  std::string source_ = "appeals";
  std::string id_;    // default: revoke:<event id>
  std::string time_;  // default: now
};

}  // namespace tally::cli
