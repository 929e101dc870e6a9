// The publisher against an in-process ROUTER peer that drops or withholds
// answers, so resend and give-up are exercised over real ZeroMQ sockets.
#include "adapters/publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <zmq_addon.hpp>

namespace tally::adapters {
namespace {

// Answers each batch as tallyd would, except the first `drop` it receives.
class FakeSubmitPeer {
 public:
  FakeSubmitPeer(zmq::context_t& context, int drop, bool answer)
      : socket_(context, zmq::socket_type::router), drop_(drop), answer_(answer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 50);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSubmitPeer() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  int received() const { return received_; }

 private:
  void serve() {
    while (!stop_) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames))) continue;
      ++received_;
      if (received_ <= drop_ || !answer_) continue;
      const std::string payload = frames[2].to_string();
      const auto lines = std::count(payload.begin(), payload.end(), '\n');
      const std::string body =
          "{\"accepted\":" + std::to_string(lines) +
          ",\"duplicates\":0,\"rejected\":[{\"line\":1,\"reason\":\"bad_time\"}]}";
      std::array<zmq::const_buffer, 3> reply = {zmq::buffer(frames[0].to_string_view()),
                                                zmq::buffer(frames[1].to_string_view()),
                                                zmq::buffer(body)};
      (void)zmq::send_multipart(socket_, reply);
    }
  }
  zmq::socket_t socket_;
  std::string endpoint_;
  int drop_;
  bool answer_;
  std::atomic<int> received_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

PublisherOptions acknowledged(const std::string& endpoint) {
  PublisherOptions options;
  options.endpoint = endpoint;
  options.acknowledged = true;
  options.batch_max_events = 2;
  options.ack_timeout = std::chrono::milliseconds(200);
  return options;
}

TEST(PublisherTest, BatchesByCountAndCountsAnswers) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, 0, true);
  Publisher publisher(context, acknowledged(peer.endpoint()));
  for (int i = 0; i < 5; ++i) publisher.add("{\"id\":\"" + std::to_string(i) + "\"}\r\n");
  publisher.add("   ");  // blank: skipped
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.events, 5u);
  EXPECT_EQ(summary.batches, 3u);
  EXPECT_EQ(summary.accepted, 5u);
  EXPECT_EQ(summary.rejected.at("bad_time"), 3u);
  EXPECT_EQ(summary.resends, 0u);
  EXPECT_TRUE(summary.complete());
}

TEST(PublisherTest, ResendsABatchThatHeardNoAnswer) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, 1, true);
  Publisher publisher(context, acknowledged(peer.endpoint()));
  publisher.add("{\"id\":\"a\"}");
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.resends, 1u);
  EXPECT_EQ(summary.accepted, 1u);
  EXPECT_TRUE(summary.complete());
  EXPECT_EQ(peer.received(), 2);
}

TEST(PublisherTest, GivesUpAfterMaxAttemptsAndSaysSo) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, 0, false);
  PublisherOptions options = acknowledged(peer.endpoint());
  options.max_attempts = 3;
  options.ack_timeout = std::chrono::milliseconds(50);
  Publisher publisher(context, options);
  publisher.add("{\"id\":\"a\"}");
  const PublishSummary summary = publisher.finish();
  EXPECT_FALSE(summary.complete());
  EXPECT_EQ(summary.unacknowledged_batches, 1u);
  EXPECT_EQ(summary.resends, 2u);
}

TEST(PublisherTest, BatchesByBytes) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, 0, true);
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 1000;
  options.batch_max_bytes = 25;
  Publisher publisher(context, options);
  for (int i = 0; i < 4; ++i) publisher.add("{\"id\":\"0123456789\"}");  // 19 bytes + newline
  EXPECT_EQ(publisher.finish().batches, 4u);
}

}  // namespace
}  // namespace tally::adapters
