// The query client against an in-process ROUTER standing in for tallyd's
// query socket: the REQ-compatible envelope, the timeout, and that a late
// answer is never taken for the next request's.
#include "client/query_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <zmq_addon.hpp>

namespace tally::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Echoes each request's body back in the envelope it came in, after
// `delay(n)` for the n-th request (from 1); a negative delay never answers.
class FakeQueryPeer {
 public:
  FakeQueryPeer(zmq::context_t& context, std::function<milliseconds(int)> delay)
      : socket_(context, zmq::socket_type::router), delay_(std::move(delay)) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 10);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeQueryPeer() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  std::size_t last_frame_count() const { return frames_; }
  int answers_sent() const { return answers_; }

 private:
  void serve() {
    while (!stop_) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames))) continue;
      frames_ = frames.size();
      const milliseconds delay = delay_(++requests_);
      if (delay.count() < 0) continue;
      std::this_thread::sleep_for(delay);
      (void)zmq::send_multipart(socket_, frames);  // [identity, "", body] back
      ++answers_;
    }
  }
  zmq::socket_t socket_;
  std::string endpoint_;
  std::function<milliseconds(int)> delay_;
  int requests_ = 0;
  std::atomic<std::size_t> frames_{0};
  std::atomic<int> answers_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(QueryClientTest, SendsWhatAReqSocketWouldAndReadsTheAnswer) {
  zmq::context_t context(1);
  FakeQueryPeer peer(context, [](int) { return milliseconds(0); });
  QueryClient client(context, peer.endpoint(), milliseconds(2000));
  const auto answer = client.request(R"({"op":"stats"})");
  ASSERT_TRUE(answer) << answer.status().to_string();
  EXPECT_EQ(*answer, R"({"op":"stats"})");
  EXPECT_EQ(peer.last_frame_count(), 3u);  // [identity, "", body], as from REQ
  EXPECT_EQ(client.request("second").value_or("none"), "second");
}

TEST(QueryClientTest, NoAnswerIsAClearErrorAfterTheTimeout) {
  zmq::context_t context(1);
  FakeQueryPeer peer(context, [](int) { return milliseconds(-1); });
  QueryClient client(context, peer.endpoint(), milliseconds(150));
  const auto start = Clock::now();
  const auto answer = client.request("{}");
  const auto waited = Clock::now() - start;
  ASSERT_FALSE(answer);
  EXPECT_GE(waited, milliseconds(140));
  EXPECT_EQ(answer.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(answer.status().message(),
            "no answer from " + peer.endpoint() + " within 0.15s (is tallyd running?)");
}

TEST(QueryClientTest, NoDaemonAtAllTimesOutToo) {
  zmq::context_t context(1);
  QueryClient client(context, "tcp://127.0.0.1:1", milliseconds(100));
  const auto answer = client.request("{}");
  ASSERT_FALSE(answer);
  EXPECT_NE(answer.status().message().find("is tallyd running?"), std::string::npos);
}

TEST(QueryClientTest, ALateAnswerIsNotTakenForTheNextRequest) {
  zmq::context_t context(1);
  // The first request is answered only once the client has given up on it;
  // the rest at once.
  std::atomic<bool> gave_up{false};
  FakeQueryPeer peer(context, [&](int n) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (n == 1 && !gave_up && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return milliseconds(0);
  });
  QueryClient client(context, peer.endpoint(), milliseconds(1000));
  EXPECT_FALSE(client.request("first"));
  gave_up = true;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (peer.answers_sent() < 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(peer.answers_sent(), 1) << "the late answer is out";
  EXPECT_EQ(client.request("second").value_or("none"), "second");
  EXPECT_EQ(client.request("third").value_or("none"), "third");
}

TEST(QueryClientTest, AnEndpointZeroMqCannotParseThrows) {
  zmq::context_t context(1);
  EXPECT_THROW(QueryClient(context, "localhost:7003", milliseconds(100)), zmq::error_t);
}

}  // namespace
}  // namespace tally::client
