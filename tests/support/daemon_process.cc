#include "tests/support/daemon_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <zmq_addon.hpp>

#include "api/answers.h"
#include "client/http_get.h"
#include "core/zmq_poll.h"

namespace tally::testing {
namespace {

constexpr const char* kAnyPort = "tcp://127.0.0.1:*";

// Waits for a message on `socket` until `timeout`; false if none came.
bool readable_within(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const Result<int> ready =
        poll_sockets({&item, 1}, std::max(left, std::chrono::milliseconds(0)));
    if (!ready) throw std::runtime_error(ready.status().to_string());
    if ((item.revents & ZMQ_POLLIN) != 0) return true;
    if (left.count() <= 0) return false;
  }
}

}  // namespace

DaemonProcess::DaemonProcess(const std::filesystem::path& rules,
                             const std::filesystem::path& data_dir,
                             std::vector<std::string> extra_args) {
  std::vector<std::string> args = {
      tallyd_path(),   "--rules",       rules.string(),  "--data-dir",       data_dir.string(),
      "--ingest-bind", kAnyPort,        "--submit-bind", kAnyPort,           "--query-bind",
      kAnyPort,        "--alerts-bind", kAnyPort,        "--metrics-listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(std::move(args));
  const auto ready =
      process_->wait_for_line([](std::string_view line) { return line == "ready"; }, kStartTimeout);
  if (!ready) {
    process_->kill();
    process_->wait_for_output_end(std::chrono::seconds(10));
    throw std::runtime_error("tallyd did not print ready; it printed:\n" + process_->output());
  }
  std::istringstream lines(process_->output());
  for (std::string line; std::getline(lines, line) && line != "ready";) {
    std::istringstream words(line);
    std::string first, what, endpoint;
    words >> first >> what >> endpoint;
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
  if (process_ && !process_->exited()) terminate();
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- tallyd (pid %d) printed:\n%s---- end of tallyd's output\n",
                 static_cast<int>(pid()), output().c_str());
  }
}

std::optional<int> DaemonProcess::stop_with(int signal, std::chrono::milliseconds timeout) {
  if (!process_ || process_->exited()) return std::nullopt;
  process_->send_signal(signal);
  std::optional<int> code = process_->wait(timeout);
  if (!code) {
    ADD_FAILURE() << "tallyd (pid " << pid() << ") did not exit within " << timeout.count()
                  << " ms of signal " << signal << ": killed";
    process_->kill();
  }
  process_->wait_for_output_end(std::chrono::seconds(10));
  return code;
}

void DaemonProcess::kill_hard() { (void)stop_with(SIGKILL, std::chrono::minutes(1)); }

int DaemonProcess::terminate(std::chrono::seconds timeout) {
  return stop_with(SIGTERM, timeout).value_or(-1);
}

void DaemonProcess::use_credentials(std::shared_ptr<const security::CurveCredentials> curve) {
  curve_ = std::move(curve);
  query_socket_.reset();
  push_socket_.reset();
  dealer_socket_.reset();
}

void DaemonProcess::send_signal(int signal) {
  if (process_) process_->send_signal(signal);
}

std::string DaemonProcess::ask(const std::string& request) {
  if (!query_socket_) {
    query_socket_.emplace(context_, zmq::socket_type::req);
    query_socket_->set(zmq::sockopt::linger, 0);
    security::secure_client_socket(*query_socket_, curve_.get());
    query_socket_->connect(query_);
  }
  if (!query_socket_->send(zmq::buffer(request), zmq::send_flags::none)) {
    throw std::runtime_error("query send failed");
  }
  zmq::message_t reply;
  if (!readable_within(*query_socket_, kAnswerTimeout) ||
      !query_socket_->recv(reply, zmq::recv_flags::dontwait)) {
    query_socket_.reset();  // a REQ socket that heard nothing cannot send again
    throw std::runtime_error("no answer to " + request);
  }
  return reply.to_string();
}

void DaemonProcess::push(const std::string& ndjson) {
  if (!push_socket_) {
    push_socket_.emplace(context_, zmq::socket_type::push);
    push_socket_->set(zmq::sockopt::linger, 5000);
    push_socket_->set(zmq::sockopt::sndtimeo, static_cast<int>(kAnswerTimeout.count() * 1000));
    security::secure_client_socket(*push_socket_, curve_.get());
    push_socket_->connect(ingest_);
  }
  if (!push_socket_->send(zmq::buffer(ndjson), zmq::send_flags::none)) {
    throw std::runtime_error("push not taken within the timeout");
  }
}

std::string DaemonProcess::submit_batch(const std::string& batch_id, const std::string& ndjson) {
  if (!dealer_socket_) {
    dealer_socket_.emplace(context_, zmq::socket_type::dealer);
    dealer_socket_->set(zmq::sockopt::linger, 0);
    security::secure_client_socket(*dealer_socket_, curve_.get());
    dealer_socket_->connect(submit_);
  }
  std::array<zmq::const_buffer, 2> frames = {zmq::buffer(batch_id), zmq::buffer(ndjson)};
  if (!zmq::send_multipart(*dealer_socket_, frames)) throw std::runtime_error("submit failed");
  std::vector<zmq::message_t> reply;
  if (!readable_within(*dealer_socket_, kAnswerTimeout) ||
      !zmq::recv_multipart(*dealer_socket_, std::back_inserter(reply), zmq::recv_flags::dontwait)) {
    dealer_socket_.reset();  // a late answer must not be taken for the next batch's
    throw std::runtime_error("no acknowledgement for batch " + batch_id);
  }
  if (reply.size() != 2 || reply[0].to_string() != batch_id) {
    throw std::runtime_error("acknowledgement does not echo the batch id " + batch_id);
  }
  return reply[1].to_string();
}

void DaemonProcess::wait_for_processed(std::uint64_t total, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint64_t seen = 0;
  while (true) {
    const std::string answer = ask(R"({"op":"stats"})");
    const auto stats = api::parse_answer<api::StatsAnswer>(answer);
    if (!stats) throw std::runtime_error("not a stats answer: " + answer);
    seen = stats->totals().processed();
    if (seen >= total) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("tallyd processed " + std::to_string(seen) + " of " +
                           std::to_string(total) + " events in " + std::to_string(timeout.count()) +
                           " s");
}

std::string DaemonProcess::scrape_metrics() {
  // http://HOST:PORT/metrics
  const std::string rest = metrics_url_.substr(std::string("http://").size());
  const auto colon = rest.find(':');
  const auto slash = rest.find('/');
  const auto body =
      client::http_get(rest.substr(0, colon), std::stoi(rest.substr(colon + 1, slash - colon - 1)),
                       rest.substr(slash));
  if (!body) throw std::runtime_error("no 200 answer from " + metrics_url_);
  return *body;
}

}  // namespace tally::testing
