// The real tallyd, started for a test on free ports, talked to over real
// sockets as any outside client would.
//
// Every endpoint is chosen by the OS (port "*" / 0) and read back from
// tallyd's "listening ..." lines, so tests never collide. tallyd's output
// (stdout and stderr) is read to the end by a thread (ChildProcess), so it
// never blocks on a full pipe after "ready"; when the test has failed, the
// destructor prints it. Every wait has a deadline.
//
// Thread-safety: one thread uses a DaemonProcess (its client sockets are its
// own); a test that sends from another thread opens its own sockets.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "security/curve_client.h"
#include "tests/support/child_process.h"
#include "tests/support/files.h"
#include "tests/support/json.h"

namespace tally::testing {

class DaemonProcess {
 public:
  // How long start-up (recovery included) may take before the test fails.
  static constexpr std::chrono::seconds kStartTimeout{60};
  // How long a query or an acknowledgement may take.
  static constexpr std::chrono::seconds kAnswerTimeout{30};

  // Starts `tallyd --rules RULES --data-dir DATA` plus `extra_args`, every
  // endpoint on a free port, and waits for "ready". Throws (with tallyd's
  // output) if it exits or is not ready in time.
  DaemonProcess(const std::filesystem::path& rules, const std::filesystem::path& data_dir,
                std::vector<std::string> extra_args = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  const std::string& ingest() const { return ingest_; }
  const std::string& submit() const { return submit_; }
  const std::string& query() const { return query_; }
  const std::string& alerts() const { return alerts_; }
  const std::string& metrics_url() const { return metrics_url_; }
  pid_t pid() const { return process_->pid(); }
  // What tallyd printed so far.
  std::string output() const { return process_->output(); }

  // SIGKILL, as a crash or a power cut would stop it; waits for the exit.
  void kill_hard();
  // SIGTERM; the exit code, or -1 if it did not exit in time (it is then killed).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(60));
  // Any other signal (SIGSTOP, SIGCONT, SIGHUP).
  void send_signal(int signal);

  // One query; the answer. Throws if none comes in kAnswerTimeout.
  std::string ask(const std::string& request);
  // Sends NDJSON over PUSH (fire and forget).
  void push(const std::string& ndjson);
  // Sends an acknowledged batch once over DEALER and waits for its answer:
  // the body. Throws if none comes in kAnswerTimeout. (For a client that
  // resends, see acknowledged_sender.h.)
  std::string submit_batch(const std::string& batch_id, const std::string& ndjson);
  // Asks `stats` until accepted + duplicates + rejected reaches `total`.
  void wait_for_processed(std::uint64_t total,
                          std::chrono::seconds timeout = std::chrono::seconds(60));
  // HTTP GET of the metrics URL; the body. Throws without a 200 answer.
  std::string scrape_metrics();
  // tallyd --auth: the credentials ask, push and submit_batch use from now on
  // (their sockets are made anew); null: plain sockets.
  void use_credentials(std::shared_ptr<const security::CurveCredentials> curve);

 private:
  std::optional<int> stop_with(int signal, std::chrono::milliseconds timeout);

  std::unique_ptr<ChildProcess> process_;
  std::string ingest_, submit_, query_, alerts_, metrics_url_;
  zmq::context_t context_{1};
  std::shared_ptr<const security::CurveCredentials> curve_;
  std::optional<zmq::socket_t> query_socket_, push_socket_, dealer_socket_;
};

}  // namespace tally::testing
