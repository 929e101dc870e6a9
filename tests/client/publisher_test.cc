// The publisher against in-process ZeroMQ peers (a ROUTER that answers, drops,
// repeats, delays or refuses; a PULL that counts), so batching, resend,
// give-up and failure are exercised over real sockets.
#include "client/publisher.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <zmq_addon.hpp>

namespace tally::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::size_t count_lines(const std::string& payload) {
  return static_cast<std::size_t>(std::count(payload.begin(), payload.end(), '\n'));
}

// What tallyd would answer: everything accepted.
std::string accept_all(const std::string& payload) {
  return "{\"accepted\":" + std::to_string(count_lines(payload)) +
         ",\"duplicates\":0,\"rejected\":[]}";
}

// A ROUTER standing in for tallyd's submit socket. For the n-th batch it
// receives (from 1), `answers` gives the bodies to send back (none: drop it),
// each `delay` after it came in.
class FakeSubmitPeer {
 public:
  using Answers = std::function<std::vector<std::string>(int n, const std::string& payload)>;

  FakeSubmitPeer(zmq::context_t& context, Answers answers, milliseconds delay = milliseconds(0))
      : socket_(context, zmq::socket_type::router), answers_(std::move(answers)), delay_(delay) {
    socket_.set(zmq::sockopt::linger, 0);
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
  int max_outstanding() const { return max_outstanding_; }
  std::vector<std::string> payloads() {
    std::lock_guard lock(mutex_);
    return payloads_;
  }

 private:
  struct Due {
    Clock::time_point at;
    std::string identity, batch_id, body;
    bool last_for_batch;
  };

  void serve() {
    std::deque<Due> due;
    int outstanding = 0;
    while (!stop_) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      (void)zmq::poll(&item, 1, milliseconds(5));
      std::vector<zmq::message_t> frames;
      while (zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        EXPECT_EQ(frames.size(), 3u) << "a DEALER batch is [identity, batch id, payload]";
        EXPECT_LE(frames[1].size(), 64u) << "batch ids are at most 64 bytes";
        const int n = ++received_;
        const std::string payload = frames[2].to_string();
        {
          std::lock_guard lock(mutex_);
          payloads_.push_back(payload);
        }
        const auto bodies = answers_(n, payload);
        if (!bodies.empty()) {
          max_outstanding_ = std::max(max_outstanding_.load(), ++outstanding);
        }
        for (std::size_t i = 0; i < bodies.size(); ++i) {
          due.push_back({Clock::now() + delay_, frames[0].to_string(), frames[1].to_string(),
                         bodies[i], i + 1 == bodies.size()});
        }
        frames.clear();
      }
      while (!due.empty() && due.front().at <= Clock::now()) {
        const Due& answer = due.front();
        const std::array<zmq::const_buffer, 3> reply = {
            zmq::buffer(answer.identity), zmq::buffer(answer.batch_id), zmq::buffer(answer.body)};
        (void)zmq::send_multipart(socket_, reply);
        if (answer.last_for_batch) --outstanding;
        due.pop_front();
      }
    }
  }

  zmq::socket_t socket_;
  std::string endpoint_;
  Answers answers_;
  milliseconds delay_;
  std::atomic<int> received_{0};
  std::atomic<int> max_outstanding_{0};
  std::mutex mutex_;
  std::vector<std::string> payloads_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A PULL standing in for tallyd's ingest socket: collects every message.
class FakeIngestPeer {
 public:
  explicit FakeIngestPeer(zmq::context_t& context) : socket_(context, zmq::socket_type::pull) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 20);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }
  // Receives until `lines` lines have come or a second passes.
  std::vector<std::string> receive(std::size_t lines) {
    std::vector<std::string> messages;
    std::size_t seen = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (seen < lines && Clock::now() < deadline) {
      zmq::message_t message;
      if (!socket_.recv(message)) continue;
      messages.push_back(message.to_string());
      seen += count_lines(messages.back());
    }
    return messages;
  }

 private:
  zmq::socket_t socket_;
  std::string endpoint_;
};

// An endpoint nothing listens on. A fixed port below the ephemeral range: a
// freed ephemeral port can be taken by the client's own connect attempt (a
// TCP self-connection, which ZeroMQ would then happily talk to).
std::string dead_endpoint() { return "tcp://127.0.0.1:1"; }

std::string event(int i) { return "{\"id\":\"" + std::to_string(i) + "\"}"; }

PublisherOptions acknowledged(const std::string& endpoint) {
  PublisherOptions options;
  options.endpoint = endpoint;
  options.acknowledged = true;
  options.batch_max_events = 2;
  options.ack_timeout = milliseconds(200);
  return options;
}

TEST(PublisherTest, BatchesByCountAndCountsAnswers) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    return std::vector<std::string>{"{\"accepted\":" + std::to_string(count_lines(payload) - 1) +
                                    ",\"duplicates\":1,\"rejected\":[]}"};
  });
  Publisher publisher(context, acknowledged(peer.endpoint()));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(publisher.add(event(i) + "\r\n"));
  EXPECT_TRUE(publisher.add("   "));  // blank: skipped
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.events, 5u);
  EXPECT_EQ(summary.events_sent, 5u);
  EXPECT_EQ(summary.batches, 3u);
  EXPECT_EQ(summary.acknowledged_batches, 3u);
  EXPECT_EQ(summary.accepted, 2u);
  EXPECT_EQ(summary.duplicates, 3u);
  EXPECT_EQ(summary.rejected_total(), 0u);
  EXPECT_EQ(summary.resends, 0u);
  EXPECT_TRUE(summary.complete());
  const auto payloads = peer.payloads();
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_EQ(payloads[0], event(0) + "\n" + event(1) + "\n");  // "\r\n" dropped
  EXPECT_EQ(payloads[2], event(4) + "\n");
}

TEST(PublisherTest, BatchesByBytes) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    return std::vector<std::string>{accept_all(payload)};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 1000;
  options.batch_max_bytes = 45;
  Publisher publisher(context, options);
  for (int i = 0; i < 5; ++i) publisher.add("{\"id\":\"0123456789\"}");  // 19 bytes + newline
  publisher.add(std::string(100, 'x'));  // longer than a batch: goes alone
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.batches, 4u);  // 2 + 2 + 1 + the long one
  EXPECT_EQ(summary.accepted, 6u);
  for (const std::string& payload : peer.payloads()) {
    EXPECT_TRUE(payload.size() <= 45 || count_lines(payload) == 1) << payload;
  }
}

TEST(PublisherTest, APartFullBatchGoesAfterMaxDelay) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    return std::vector<std::string>{accept_all(payload)};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 1000;
  options.batch_max_delay = milliseconds(50);
  Publisher publisher(context, options);
  EXPECT_TRUE(publisher.add(event(1)));
  // A live feed with nothing new: poll() sends the waiting event and takes its answer.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (publisher.summary().acknowledged_batches == 0 && Clock::now() < deadline) {
    EXPECT_TRUE(publisher.poll(milliseconds(10)));
  }
  EXPECT_EQ(publisher.summary().acknowledged_batches, 1u);
  EXPECT_EQ(publisher.summary().accepted, 1u);
  EXPECT_EQ(peer.payloads().size(), 1u);
  // Without a delay limit the same event would still be waiting.
  options.batch_max_delay = milliseconds(0);
  Publisher patient(context, options);
  EXPECT_TRUE(patient.add(event(2)));
  EXPECT_TRUE(patient.poll(milliseconds(100)));
  EXPECT_EQ(patient.summary().batches, 0u);
  EXPECT_EQ(patient.finish().accepted, 1u);
}

TEST(PublisherTest, RateLimitPacesEvents) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    return std::vector<std::string>{accept_all(payload)};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 10;
  options.max_events_per_second = 200;
  Publisher publisher(context, options);
  const auto start = Clock::now();
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(publisher.add(event(i)));
  const PublishSummary summary = publisher.finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(summary.accepted, 300u);
  // The bucket starts with one event, not a second's worth: 300 events at
  // 200 a second take about 1.5 s.
  EXPECT_GE(seconds, 1.4);
  EXPECT_LT(seconds, 5.0);
}

TEST(PublisherTest, ResendsABatchThatHeardNoAnswer) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int n, const std::string& payload) {
    return n == 1 ? std::vector<std::string>{} : std::vector<std::string>{accept_all(payload)};
  });
  Publisher publisher(context, acknowledged(peer.endpoint()));
  publisher.add(event(1));
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.resends, 1u);
  EXPECT_EQ(summary.accepted, 1u);
  EXPECT_EQ(summary.batches, 1u);
  EXPECT_TRUE(summary.complete());
  EXPECT_EQ(peer.received(), 2);
  const auto payloads = peer.payloads();
  EXPECT_EQ(payloads[0], payloads[1]);  // the same batch again
}

TEST(PublisherTest, CountsATwiceAnsweredBatchOnce) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    return std::vector<std::string>{accept_all(payload), accept_all(payload)};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 1;
  Publisher publisher(context, options);
  for (int i = 0; i < 4; ++i) publisher.add(event(i));
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.accepted, 4u);
  EXPECT_EQ(summary.acknowledged_batches, 4u);
}

TEST(PublisherTest, GivesUpAfterMaxAttemptsAndSaysSo) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string&) { return std::vector<std::string>{}; });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.max_attempts = 3;
  options.ack_timeout = milliseconds(50);
  Publisher publisher(context, options);
  publisher.add(event(1));
  publisher.add(event(2));
  publisher.add(event(3));
  const PublishSummary summary = publisher.finish();
  EXPECT_FALSE(summary.complete());
  EXPECT_TRUE(summary.failure.empty());  // it was sent; tallyd just never answered
  EXPECT_EQ(summary.unacknowledged_batches, 2u);
  EXPECT_EQ(summary.unacknowledged_events, 3u);
  EXPECT_EQ(summary.resends, 4u);
  EXPECT_EQ(peer.received(), 6);
}

extern "C" void ignore_signal(int) {}

TEST(PublisherTest, SignalsWhileWaitingForAnswersNeitherThrowNorEndTheWait) {
  // A handler without SA_RESTART: each signal interrupts the wait (EINTR),
  // which cppzmq's zmq::poll turned into an exception.
  struct sigaction action {
  }, previous{};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  sigset_t usr1, mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &usr1, &mask), 0);

  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string&) { return std::vector<std::string>{}; });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.max_attempts = 2;
  options.ack_timeout = milliseconds(300);
  Publisher publisher(context, options);
  publisher.add(event(1));
  const pthread_t waiter = ::pthread_self();
  std::atomic<bool> finished{false};
  std::thread interrupter([&] {
    while (!finished) {
      ::pthread_kill(waiter, SIGUSR1);
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
  const auto start = Clock::now();
  PublishSummary summary;
  EXPECT_NO_THROW(summary = publisher.finish());
  const auto waited = Clock::now() - start;
  finished = true;
  interrupter.join();
  ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  ::sigaction(SIGUSR1, &previous, nullptr);

  // Every attempt got its full ack_timeout: the signals only woke the wait.
  EXPECT_GE(waited, milliseconds(600));
  EXPECT_TRUE(summary.failure.empty()) << summary.failure;
  EXPECT_EQ(summary.unacknowledged_batches, 1u);
  EXPECT_EQ(summary.resends, 1u);
  EXPECT_EQ(peer.received(), 2);
}

TEST(PublisherTest, MapsRejectedLinesBackToInputLines) {
  zmq::context_t context(1);
  // Rejects the second line of every batch.
  FakeSubmitPeer peer(context, [](int, const std::string& payload) {
    const auto lines = count_lines(payload);
    std::string rejected = lines >= 2 ? "{\"line\":2,\"reason\":\"bad_time\"}" : "";
    return std::vector<std::string>{"{\"accepted\":" + std::to_string(lines - (lines >= 2)) +
                                    ",\"duplicates\":0,\"rejected\":[" + rejected + "]}"};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 3;
  Publisher publisher(context, options);
  // Input lines 1..9; 2, 3 and 6 are blank. Batches: {1,4,5} {7,8,9}.
  for (int line = 1; line <= 9; ++line) {
    publisher.add(line == 2 || line == 3 || line == 6 ? "" : event(line));
  }
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.accepted, 4u);
  EXPECT_EQ(summary.rejected.at("bad_time"), 2u);
  ASSERT_EQ(summary.rejected_lines.size(), 2u);
  EXPECT_EQ(summary.rejected_lines[0].input_line, 4u);
  EXPECT_EQ(summary.rejected_lines[0].reason, "bad_time");
  EXPECT_EQ(summary.rejected_lines[1].input_line, 8u);
}

TEST(PublisherTest, ARefusedBatchCountsEveryEventRejected) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(context, [](int, const std::string&) {
    return std::vector<std::string>{
        R"({"error":{"code":"bad_batch","message":"expected 2 frames"}})"};
  });
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 10;
  Publisher publisher(context, options);
  for (int i = 0; i < 3; ++i) publisher.add(event(i));
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.rejected.at("bad_batch"), 3u);
  EXPECT_EQ(summary.accepted, 0u);
  EXPECT_TRUE(summary.complete());  // answered: nothing to resend
}

TEST(PublisherTest, KeepsAtMostMaxInFlightBatchesWaiting) {
  zmq::context_t context(1);
  FakeSubmitPeer peer(
      context,
      [](int, const std::string& payload) { return std::vector<std::string>{accept_all(payload)}; },
      milliseconds(100));
  PublisherOptions options = acknowledged(peer.endpoint());
  options.batch_max_events = 1;
  options.max_in_flight = 3;
  options.ack_timeout = milliseconds(5000);
  Publisher publisher(context, options);
  for (int i = 0; i < 12; ++i) publisher.add(event(i));
  const PublishSummary summary = publisher.finish();
  EXPECT_EQ(summary.accepted, 12u);
  EXPECT_EQ(summary.resends, 0u);
  EXPECT_EQ(peer.max_outstanding(), 3);
}

TEST(PublisherTest, AcknowledgedWithNoListenerFailsWithinSendTimeout) {
  zmq::context_t context(1);
  PublisherOptions options = acknowledged(dead_endpoint());
  options.send_timeout = milliseconds(200);
  Publisher publisher(context, options);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) publisher.add(event(i));
  const PublishSummary summary = publisher.finish();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(summary.complete());
  EXPECT_NE(summary.failure.find("is tallyd running?"), std::string::npos) << summary.failure;
  EXPECT_EQ(summary.events_sent, 0u);
  EXPECT_EQ(summary.unacknowledged_events, 5u);
  EXPECT_FALSE(publisher.add(event(9)));  // failed publishers drop
}

TEST(PublisherTest, FireAndForgetDeliversEveryLine) {
  for (const std::size_t batch : {std::size_t{1}, std::size_t{7}}) {
    zmq::context_t context(1);
    FakeIngestPeer peer(context);
    PublisherOptions options;
    options.endpoint = peer.endpoint();
    options.batch_max_events = batch;
    Publisher publisher(context, options);
    std::string expected;
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(publisher.add(event(i)));
      expected += event(i) + "\n";
    }
    const PublishSummary summary = publisher.finish();
    EXPECT_TRUE(summary.complete());
    EXPECT_EQ(summary.events_sent, 100u);
    EXPECT_EQ(summary.batches, (100 + batch - 1) / batch);
    const auto messages = peer.receive(100);
    EXPECT_EQ(messages.size(), summary.batches);
    std::string received;
    for (const auto& message : messages) received += message;
    EXPECT_EQ(received, expected) << "batch " << batch;
  }
}

TEST(PublisherTest, FireAndForgetWithNoListenerFailsWithinSendTimeout) {
  zmq::context_t context(1);
  PublisherOptions options;
  options.endpoint = dead_endpoint();
  options.send_timeout = milliseconds(200);
  options.batch_max_events = 1;
  const auto start = Clock::now();
  {
    Publisher publisher(context, options);
    EXPECT_FALSE(publisher.add(event(1)));  // a batch of one goes at once, and cannot
    EXPECT_FALSE(publisher.add(event(2)));  // failed publishers drop
    const PublishSummary summary = publisher.finish();
    EXPECT_EQ(summary.events, 1u);
    EXPECT_FALSE(summary.complete());
    EXPECT_EQ(summary.events_sent, 0u);
    EXPECT_NE(summary.failure.find("is tallyd running?"), std::string::npos) << summary.failure;
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(PublisherTest, FireAndForgetWithOneEventAMessage) {
  zmq::context_t context(1);
  FakeIngestPeer peer(context);
  PublisherOptions options;
  options.endpoint = peer.endpoint();
  options.batch_max_events = 0;  // treated as 1
  Publisher publisher(context, options);
  publisher.add(event(1));
  publisher.add(event(2));
  EXPECT_EQ(publisher.finish().batches, 2u);
  const auto messages = peer.receive(2);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], event(2) + "\n");
}

}  // namespace
}  // namespace tally::client
