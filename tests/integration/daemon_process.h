// Starts the real tallyd binary on free ports and talks to it over real
// sockets, as any outside client would. Every endpoint is chosen by the OS
// (port 0 / "*") and read back from tallyd's "listening ..." lines, so tests
// never collide.
#pragma once

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace tally::testing {

std::filesystem::path make_temp_dir(const std::string& name);
void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

class DaemonProcess {
 public:
  // Starts `tallyd --rules RULES --data-dir DATA` plus `extra_args`, with
  // every endpoint on a free port; waits for "ready". Throws on failure.
  DaemonProcess(const std::filesystem::path& rules, const std::filesystem::path& data_dir,
                std::vector<std::string> extra_args = {});
  ~DaemonProcess();

  const std::string& ingest() const { return ingest_; }
  const std::string& submit() const { return submit_; }
  const std::string& query() const { return query_; }
  const std::string& alerts() const { return alerts_; }
  const std::string& metrics_url() const { return metrics_url_; }
  pid_t pid() const { return pid_; }

  // SIGKILL, as a crash or a power cut would stop it; waits for the process.
  void kill_hard();
  // Sends SIGTERM and returns the exit status (or -1 on timeout).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(30));

  // One query; the answer as text. Throws on timeout.
  std::string ask(const std::string& request);
  // Sends NDJSON over PUSH (fire and forget).
  void push(const std::string& ndjson);
  // Sends an acknowledged batch over DEALER and returns the answer body.
  std::string submit_batch(const std::string& batch_id, const std::string& ndjson);
  // Polls stats until `accepted + duplicates + rejected` reaches `total`.
  void wait_for_processed(std::uint64_t total,
                          std::chrono::seconds timeout = std::chrono::seconds(30));
  // HTTP GET of the metrics URL; the body.
  std::string scrape_metrics();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string ingest_, submit_, query_, alerts_, metrics_url_;
  zmq::context_t context_{1};
  std::optional<zmq::socket_t> query_socket_, push_socket_, dealer_socket_;
};

// Runs tallyd (or any program) to completion; returns exit code and output.
struct ProgramResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
ProgramResult run_program(const std::vector<std::string>& argv);

std::string tallyd_path();
std::string tally_path();

// Parses JSON; fails the test on invalid JSON.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text);

}  // namespace tally::testing
