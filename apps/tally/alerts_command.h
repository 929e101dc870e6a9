// `tally alerts [--since S] [--follow] [--tier T] [--state FILE]`: tier-change
// alerts, one JSON body a line, in seq order, each exactly once.
//
// Without --follow it prints what the alert log holds from S (default: the
// oldest kept) to the newest, and exits. With --follow it goes on (default
// start: the next alert) until SIGINT or SIGTERM, subscribed to the alerts
// socket and filling every gap from the log (client/alert_follower.h).
// --state FILE keeps the last seq printed, so that a restarted follower goes
// on after it. A summary (alerts printed, gaps filled, alerts missed) goes to
// stderr at the end.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "apps/tally/client_options.h"

namespace tally::cli {

class AlertsCommand {
 public:
  // Registers `alerts` on `app`; binds its flags to this object, which must
  // outlive parsing and stay where it is.
  explicit AlertsCommand(CLI::App& app);
  AlertsCommand(const AlertsCommand&) = delete;
  AlertsCommand& operator=(const AlertsCommand&) = delete;

  bool parsed() const { return command_->parsed(); }
  bool follows() const { return follow_; }
  // Returns the exit code: 0 done (or stopped by a signal); 1 alerts were
  // missed (gone from the log before they were read) or the daemon's seq
  // went back; 2 no answer, or a bad --state file.
  int run(const ClientOptions& options) const;

 private:
  CLI::App* command_;
  std::string alerts_endpoint_;
  std::uint64_t since_ = 0;
  bool follow_ = false;
  std::string tier_;
  bool tier_given_ = false;
  std::string state_path_;
};

}  // namespace tally::cli
