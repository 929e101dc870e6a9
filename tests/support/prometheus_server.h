// A real Prometheus server (Debian's `prometheus` package), started for a
// test on a free loopback port with a temporary storage directory, and asked
// through its HTTP API as Grafana or an operator would.
//
// The port is chosen by the OS (--web.listen-address 127.0.0.1:0) and read
// back from the server's "Listening on" log line, so tests never collide.
// The server is a ChildProcess: it is killed (SIGKILL) when this object goes,
// whatever path the test took, and its log is printed when the test failed.
// Every wait has a deadline.
//
// Thread-safety: one thread.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/child_process.h"

namespace tally::testing {

class PrometheusServer {
 public:
  // How long start-up (listening and ready) may take before the test fails.
  static constexpr std::chrono::seconds kStartTimeout{30};

  // The prometheus program on PATH; empty when it is not installed (the
  // caller skips its test, saying so).
  static std::string program();

  // Starts `prometheus --config.file CONFIG` with its storage in
  // `storage_dir` and waits until it answers /-/ready. Throws (with the
  // server's log) if it exits or is not ready in time.
  PrometheusServer(const std::filesystem::path& config, const std::filesystem::path& storage_dir);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const noexcept { return port_; }
  std::string output() const { return process_->output(); }

  // GET /api/v1/query?query=EXPR (evaluated now): the answer's `data.result`
  // array; nullopt when the server refused the query (no 200 answer: a bad
  // expression) or the answer is not a success. The element lives until the
  // next call.
  std::optional<simdjson::dom::array> instant_query(std::string_view expr);
  // GET /api/v1/rules: the answer's `data.groups` array; nullopt as above.
  std::optional<simdjson::dom::array> rule_groups();

 private:
  std::optional<simdjson::dom::element> get_data(const std::string& path);

  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  std::string body_;  // the last answer, which `parser_`'s elements point into
  simdjson::dom::parser parser_;
};

// `text` with every byte but RFC 3986's unreserved ones written as %XX.
std::string url_encode(std::string_view text);

}  // namespace tally::testing
