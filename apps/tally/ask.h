// Asking tallyd one query: the request goes out as api/ writes it, the answer
// is read back as its typed api/ value and printed for people (or as it is,
// with --json).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <zmq.hpp>

#include "api/protocol.h"
#include "apps/tally/client_options.h"

namespace tally::client {
class QueryClient;
}

namespace tally::cli {

// Registers a subcommand that asks tallyd one query; its --help ends with
// `footer` (examples) and the exit codes every query shares.
CLI::App* add_query_subcommand(CLI::App& app, const std::string& name,
                               const std::string& description, const std::string& footer);

// Returns the exit code: 0 answered; 1 tallyd refused (printed as `tally:
// CODE: MESSAGE`) or answered something unreadable; 2 no answer. With
// --cluster, the nodes of the cluster file are asked (cluster_routing.h).
int ask(zmq::context_t& context, const ClientOptions& options, const api::Request& request);

// Prints tallyd's answer to `request` (as it is with --json) and returns the
// exit code as ask's. `client` (may be null) asks the follow-ups of `workers N`.
int present(client::QueryClient* client, const ClientOptions& options, const api::Request& request,
            const std::string& answer);

}  // namespace tally::cli
