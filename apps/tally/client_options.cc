#include "apps/tally/client_options.h"

namespace tally::cli {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::chrono::milliseconds ClientOptions::timeout() const { return to_ms(timeout_s); }

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
  app.add_flag("--json", options.json,
               "Print tallyd's JSON answer as it is (send: the summary as JSON)");
}

}  // namespace tally::cli
