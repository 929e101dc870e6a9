// Real nats-server processes with JetStream, started for a test on free
// loopback ports with their own storage directories, watched and stopped
// through ChildProcess (every wait has a deadline; nothing outlives the test).
//
// NatsServer: one server. NatsCluster: three servers in one cluster (a
// cluster block each, routes to the others), so an R3 stream survives the
// loss of any one; a server killed with kill_hard() can be restart()ed on
// the same ports and storage, as an operator would after a crash.
//
// Ports are chosen by the OS (bind to port 0, read it back, close) just
// before the server starts; the servers' client URLs are then fixed for the
// test's life, so a restarted server is found where it was.
//
// Thread-safety: one thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace tally::testing {

// A free TCP port on 127.0.0.1, as the OS gives it.
int free_loopback_port();

class NatsServer {
 public:
  static constexpr std::chrono::seconds kStartTimeout{30};

  // Writes the config into `dir` (storage in dir/store) and starts the
  // server; waits until it says it is ready. `cluster_block` (may be empty)
  // is pasted into the config as is.
  NatsServer(std::string name, std::filesystem::path dir, int client_port,
             std::string cluster_block = "");
  // A lone server with JetStream on a free port.
  explicit NatsServer(const std::filesystem::path& dir);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  bool running() const { return process_ && !process_->exited(); }
  // SIGKILL, as a crash would.
  void kill_hard();
  // Starts it again on the same ports and storage; waits until ready.
  void restart();

 private:
  void start();
  std::string name_;
  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<ChildProcess> process_;
};

class NatsCluster {
 public:
  // Three servers, routes between them, JetStream on each.
  explicit NatsCluster(const std::filesystem::path& dir, int servers = 3);
  NatsServer& server(std::size_t i) { return *servers_[i]; }
  std::size_t size() const { return servers_.size(); }
  // Every server's URL, comma-separated: what --nats takes.
  std::string urls() const;
  // Waits until JetStream answers API requests (a meta leader is elected).
  void wait_for_jetstream(std::chrono::seconds timeout = std::chrono::seconds(30));

 private:
  std::vector<std::unique_ptr<NatsServer>> servers_;
};

}  // namespace tally::testing
