// `tally rules impact NEW.toml`: asks the running tallyd what a proposed
// rules file would do to every subject (op "impact"; nothing changes) and
// prints it for the people deciding the change: the subjects scored and
// changed, the tier transition matrix, the distribution of score changes,
// the largest changes and the event types behind them, and per event type
// the events and points now and under the proposal. --csv writes one row
// per changed subject, fetched in pages of key groups.
#pragma once

#include <cstdint>
#include <string>
#include <zmq.hpp>

#include "api/answers.h"
#include "apps/tally/client_options.h"

namespace tally::cli {

struct ImpactOptions {
  std::string file;
  std::string at;  // RFC 3339 or epoch ms; empty: now on the daemon's clock
  std::uint64_t top = 10;
  std::string csv;      // write the changed subjects here
  double wait_s = 600;  // how long one impact may take to answer
};

// The exit code: 0 answered; 1 refused (rules_refused, busy); 2 no answer or
// bad input.
int run_impact(zmq::context_t& context, const ClientOptions& options, const ImpactOptions& impact);

void print_impact(const api::ImpactAnswer& answer);

}  // namespace tally::cli
