#include "apps/tally/client_options.h"

#include <cstdio>

namespace tally::cli {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::chrono::milliseconds ClientOptions::timeout() const { return to_ms(timeout_s); }

std::chrono::milliseconds ClientOptions::node_timeout() const { return to_ms(node_timeout_s); }

bool ClientOptions::load_credentials() {
  Result<std::shared_ptr<const security::CurveCredentials>> loaded =
      security::load_credentials(key_file, server_key);
  if (!loaded) {
    std::fprintf(stderr, "tally: %s\n", loaded.status().to_string().c_str());
    return false;
  }
  curve = std::move(loaded).value();
  return true;
}

void add_client_options(CLI::App& app, ClientOptions& options) {
  app.add_option("--query", options.query_endpoint, "tallyd's query socket (ROUTER)")
      ->capture_default_str();
  app.add_option("--ingest", options.ingest_endpoint,
                 "tallyd's fire-and-forget ingest socket (PULL)")
      ->capture_default_str();
  app.add_option("--submit", options.submit_endpoint, "tallyd's acknowledged-batch socket (ROUTER)")
      ->capture_default_str();
  app.add_option("--timeout", options.timeout_s,
                 "Seconds to wait for an answer, or for tallyd to take a message (send)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--key", options.key_file,
                 "tallyd --auth: this client's secret key file (NAME.key, from `tally keygen`)");
  app.add_option("--server-key", options.server_key,
                 "tallyd --auth: the server's public key, or its .pub file (tallyd prints it)");
  app.add_option("--cluster", options.cluster_file,
                 "A cluster file (cluster.toml: nodes, their query endpoints and partitions): "
                 "score, explain and history go to an owner of the subject's partition, failing "
                 "over to the next; top merged from every node; stats from the first that answers")
      ->check(CLI::ExistingFile);
  app.add_option("--node-timeout", options.node_timeout_s,
                 "With --cluster: seconds to wait for each node before asking the next")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--verbose", options.verbose,
               "With --cluster: say on stderr which node answered, and each passed over");
  app.add_flag("--json", options.json,
               "Print tallyd's JSON answer as it is (send: the summary as JSON)");
}

}  // namespace tally::cli
