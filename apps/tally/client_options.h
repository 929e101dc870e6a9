// What every `tally` subcommand shares: where tallyd is, how long to wait,
// whether to print JSON, and the exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "api/endpoints.h"
#include "security/curve_client.h"

namespace tally::cli {

// Exit codes (tally --help and docs/client.md say the same).
constexpr int kExitDone = 0;
constexpr int kExitError = 1;         // tallyd said no, or not everything was acknowledged
constexpr int kExitNoAnswer = 2;      // no daemon, or bad input
constexpr int kExitRulesRefused = 3;  // `rules check`: the file breaks the rules format

struct ClientOptions {
  std::string query_endpoint = api::kDefaultQueryEndpoint;
  std::string ingest_endpoint = api::kDefaultIngestEndpoint;
  std::string submit_endpoint = api::kDefaultSubmitEndpoint;
  double timeout_s = 5;
  bool json = false;  // print tallyd's answer as it is
  // tallyd --auth: --key FILE and --server-key KEY|FILE, loaded into `curve`
  // by load_credentials() (null without them).
  std::string key_file;
  std::string server_key;
  std::shared_ptr<const security::CurveCredentials> curve;
  // --cluster FILE: queries go to the nodes of a cluster file
  // (apps/tally/cluster_routing.h) instead of --query; each node is given
  // node_timeout_s before the next is asked. Default 1 s.
  std::string cluster_file;
  double node_timeout_s = 1;
  bool verbose = false;  // say on stderr which node answered (--cluster)

  std::chrono::milliseconds timeout() const;
  std::chrono::milliseconds node_timeout() const;
  // Reads --key and --server-key; false (having said why on stderr) if they
  // cannot be used.
  bool load_credentials();
};

// Registers --query, --ingest, --submit, --timeout, --json, --key,
// --server-key, --cluster, --node-timeout and --verbose on `app`.
void add_client_options(CLI::App& app, ClientOptions& options);

std::chrono::milliseconds to_ms(double seconds);

}  // namespace tally::cli
