// `tally score|explain|history|top|stats`: the questions a case officer or an
// operator asks, each one api/ request.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "api/protocol.h"

namespace tally::cli {

class QueryCommands {
 public:
  // Registers the subcommands on `app`; binds their flags to this object,
  // which must outlive parsing and stay where it is.
  explicit QueryCommands(CLI::App& app);
  QueryCommands(const QueryCommands&) = delete;
  QueryCommands& operator=(const QueryCommands&) = delete;

  // Whether one of these subcommands was given.
  bool parsed() const;
  // Its request; a --at that is not a time is refused (bad_time).
  Result<api::Request> request() const;

 private:
  CLI::App* score_;
  CLI::App* explain_;
  CLI::App* history_;
  CLI::App* top_;
  CLI::App* stats_;
  std::string subject_;
  std::string at_;
  std::uint64_t n_ = api::kDefaultTopN;
  bool lowest_ = false;
};

// A time given on the command line: digits are epoch milliseconds, anything
// else RFC 3339.
Result<std::int64_t> parse_time_flag(std::string_view flag, const std::string& text);

}  // namespace tally::cli
