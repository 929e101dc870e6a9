#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <zmq_addon.hpp>

#include "adapters/http_get.h"

namespace tally::testing {

std::filesystem::path make_temp_dir(const std::string& name) {
  std::random_device random;
  auto dir = std::filesystem::temp_directory_path() /
             ("tally-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  return dir;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string tallyd_path() { return std::string(TALLY_BINARY_DIR) + "/apps/tallyd"; }
std::string tally_path() { return std::string(TALLY_BINARY_DIR) + "/apps/tally"; }

namespace {

std::vector<char*> to_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return argv;
}

struct Spawned {
  pid_t pid;
  int output_fd;  // the child's stdout (and stderr, if asked)
};

Spawned spawn(std::vector<std::string> args, bool with_stderr) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    if (with_stderr) ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    auto argv = to_argv(args);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  return {pid, pipe_fds[0]};
}

// Reads one line from fd, waiting at most until `deadline`.
std::optional<std::string> read_line(int fd, std::string& buffer,
                                     std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto newline = buffer.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd item{fd, POLLIN, 0};
    if (::poll(&item, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

DaemonProcess::DaemonProcess(const std::filesystem::path& rules,
                             const std::filesystem::path& data_dir,
                             std::vector<std::string> extra_args) {
  std::vector<std::string> args = {tallyd_path(),       "--rules",           rules.string(),
                                   "--data-dir",        data_dir.string(),   "--ingest-bind",
                                   "tcp://127.0.0.1:*", "--submit-bind",     "tcp://127.0.0.1:*",
                                   "--query-bind",      "tcp://127.0.0.1:*", "--alerts-bind",
                                   "tcp://127.0.0.1:*", "--metrics-listen",  "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const Spawned child = spawn(std::move(args), false);
  pid_ = child.pid;
  stdout_fd_ = child.output_fd;
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    auto line = read_line(stdout_fd_, buffer, deadline);
    if (!line) {
      terminate();
      throw std::runtime_error("tallyd did not print ready");
    }
    std::istringstream words(*line);
    std::string first, what, endpoint;
    words >> first >> what >> endpoint;
    if (first == "ready") break;
    if (first != "listening") continue;
    if (what == "ingest") ingest_ = endpoint;
    if (what == "submit") submit_ = endpoint;
    if (what == "query") query_ = endpoint;
    if (what == "alerts") alerts_ = endpoint;
    if (what == "metrics") metrics_url_ = endpoint;
  }
}

DaemonProcess::~DaemonProcess() {
  query_socket_.reset();
  push_socket_.reset();
  dealer_socket_.reset();
  if (pid_ > 0) terminate();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void DaemonProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int DaemonProcess::terminate(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

std::string DaemonProcess::ask(const std::string& request) {
  if (!query_socket_) {
    query_socket_.emplace(context_, zmq::socket_type::req);
    query_socket_->set(zmq::sockopt::linger, 0);
    query_socket_->set(zmq::sockopt::rcvtimeo, 10000);
    query_socket_->connect(query_);
  }
  if (!query_socket_->send(zmq::buffer(request), zmq::send_flags::none)) {
    throw std::runtime_error("query send failed");
  }
  zmq::message_t reply;
  if (!query_socket_->recv(reply)) {
    query_socket_.reset();
    throw std::runtime_error("no answer to " + request);
  }
  return reply.to_string();
}

void DaemonProcess::push(const std::string& ndjson) {
  if (!push_socket_) {
    push_socket_.emplace(context_, zmq::socket_type::push);
    push_socket_->set(zmq::sockopt::linger, 5000);
    push_socket_->connect(ingest_);
  }
  if (!push_socket_->send(zmq::buffer(ndjson), zmq::send_flags::none)) {
    throw std::runtime_error("push failed");
  }
}

std::string DaemonProcess::submit_batch(const std::string& batch_id, const std::string& ndjson) {
  if (!dealer_socket_) {
    dealer_socket_.emplace(context_, zmq::socket_type::dealer);
    dealer_socket_->set(zmq::sockopt::linger, 0);
    dealer_socket_->set(zmq::sockopt::rcvtimeo, 10000);
    dealer_socket_->connect(submit_);
  }
  std::array<zmq::const_buffer, 2> frames = {zmq::buffer(batch_id), zmq::buffer(ndjson)};
  if (!zmq::send_multipart(*dealer_socket_, frames)) throw std::runtime_error("submit failed");
  std::vector<zmq::message_t> reply;
  if (!zmq::recv_multipart(*dealer_socket_, std::back_inserter(reply))) {
    throw std::runtime_error("no acknowledgement for batch " + batch_id);
  }
  if (reply.size() != 2 || reply[0].to_string() != batch_id) {
    throw std::runtime_error("acknowledgement does not echo the batch id");
  }
  return reply[1].to_string();
}

void DaemonProcess::wait_for_processed(std::uint64_t total, std::chrono::seconds timeout) {
  simdjson::dom::parser parser;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string answer = ask(R"({"op":"stats"})");
    simdjson::dom::element stats = parser.parse(answer);
    seen = stats["accepted"].get_uint64().value() + stats["duplicates"].get_uint64().value() +
           stats["rejected_total"].get_uint64().value();
    if (seen >= total) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("daemon processed " + std::to_string(seen) + " of " +
                           std::to_string(total) + " events");
}

std::string DaemonProcess::scrape_metrics() {
  // http://HOST:PORT/metrics
  const std::string rest = metrics_url_.substr(std::string("http://").size());
  const auto colon = rest.find(':');
  const auto slash = rest.find('/');
  const auto body =
      adapters::http_get(rest.substr(0, colon),
                         std::stoi(rest.substr(colon + 1, slash - colon - 1)), rest.substr(slash));
  if (!body) throw std::runtime_error("no 200 answer from " + metrics_url_);
  return *body;
}

ProgramResult run_program(const std::vector<std::string>& argv) {
  const Spawned child = spawn(argv, true);
  ProgramResult result;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(child.output_fd, chunk, sizeof chunk)) > 0) {
    result.output.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(child.output_fd);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element element;
  const auto error = parser.parse(text).get(element);
  EXPECT_EQ(error, simdjson::SUCCESS) << "invalid JSON: " << text;
  return element;
}

}  // namespace tally::testing
