#include "tests/support/nats_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "core/nats_connection.h"
#include "tests/support/files.h"

namespace tally::testing {

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

NatsServer::NatsServer(std::string name, std::filesystem::path dir, int client_port,
                       std::string cluster_block)
    : name_(std::move(name)), dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ / "store");
  url_ = fmt::format("nats://127.0.0.1:{}", client_port);
  write_file(dir_ / "nats.conf",
             fmt::format("server_name: {}\nlisten: 127.0.0.1:{}\n"
                         "jetstream {{\n  store_dir: \"{}\"\n}}\n{}\n",
                         name_, client_port, (dir_ / "store").string(), cluster_block));
  start();
}

NatsServer::NatsServer(const std::filesystem::path& dir)
    : NatsServer("solo", dir, free_loopback_port()) {}

NatsServer::~NatsServer() {
  if (running()) {
    process_->send_signal(SIGTERM);
    if (!process_->wait(std::chrono::seconds(10))) process_->kill();
  }
  if (process_ && ::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- nats-server %s printed:\n%s---- end\n", name_.c_str(),
                 process_->output().c_str());
  }
}

void NatsServer::start() {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/sbin/nats-server", "-c", (dir_ / "nats.conf").string()});
  const auto ready = process_->wait_for_line(
      [](std::string_view line) { return line.find("Server is ready") != std::string_view::npos; },
      kStartTimeout);
  if (!ready) {
    process_->kill();
    process_->wait_for_output_end(std::chrono::seconds(5));
    throw std::runtime_error("nats-server " + name_ + " did not start:\n" + process_->output());
  }
}

void NatsServer::kill_hard() {
  if (running()) process_->kill();
}

void NatsServer::restart() {
  kill_hard();
  start();
}

NatsCluster::NatsCluster(const std::filesystem::path& dir, int servers) {
  std::vector<int> client_ports;
  std::vector<int> route_ports;
  for (int i = 0; i < servers; ++i) {
    client_ports.push_back(free_loopback_port());
    route_ports.push_back(free_loopback_port());
  }
  for (int i = 0; i < servers; ++i) {
    std::string routes;
    for (int j = 0; j < servers; ++j) {
      if (j != i) routes += fmt::format("    nats-route://127.0.0.1:{}\n", route_ports[j]);
    }
    const std::string block = fmt::format(
        "cluster {{\n  name: tally-test\n  listen: 127.0.0.1:{}\n  routes: [\n{}  ]\n}}\n",
        route_ports[i], routes);
    servers_.push_back(std::make_unique<NatsServer>(
        fmt::format("n{}", i + 1), dir / fmt::format("n{}", i + 1), client_ports[i], block));
  }
}

std::string NatsCluster::urls() const {
  std::string out;
  for (const auto& server : servers_) out += (out.empty() ? "" : ",") + server->url();
  return out;
}

void NatsCluster::wait_for_jetstream(std::chrono::seconds timeout) {
  nats::ConnectOptions options;
  for (const auto& server : servers_) options.urls.push_back(server->url());
  options.first_connect_patience = timeout;
  auto connection = nats::Connection::connect(options);
  if (!connection) throw std::runtime_error(connection.status().to_string());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    jsAccountInfo* info = nullptr;
    jsErrCode error = jsErrCode(0);
    jsOptions js_options = (*connection)->api_options();
    if (js_GetAccountInfo(&info, (*connection)->jetstream(), &js_options, &error) == NATS_OK) {
      jsAccountInfo_Destroy(info);
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("JetStream did not become available in the test cluster");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace tally::testing
