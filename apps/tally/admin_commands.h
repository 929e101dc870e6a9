// `tally reload|snapshot|workers`: an operator's commands to a running
// tallyd, each one api/ request.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>

#include "api/protocol.h"

namespace tally::cli {

class AdminCommands {
 public:
  // Registers the subcommands on `app`; binds their flags to this object,
  // which must outlive parsing and stay where it is.
  explicit AdminCommands(CLI::App& app);
  AdminCommands(const AdminCommands&) = delete;
  AdminCommands& operator=(const AdminCommands&) = delete;

  // Whether one of these subcommands was given.
  bool parsed() const;
  api::Request request() const;

 private:
  CLI::App* reload_;
  CLI::App* snapshot_;
  CLI::App* workers_;
  CLI::Option* workers_n_;
  std::uint32_t set_workers_ = 0;
};

}  // namespace tally::cli
