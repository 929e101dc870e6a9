// The publisher and the stream admin against a real nats-server.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "client/jetstream_admin.h"
#include "client/jetstream_publisher.h"
#include "tests/support/files.h"
#include "tests/support/nats_server.h"

namespace tally::client {
namespace {

using testing::NatsServer;
using testing::TempDir;

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats::ConnectOptions options;
    options.urls = {server_.url()};
    auto connected = nats::Connection::connect(options);
    ASSERT_TRUE(connected.is_ok()) << connected.status().to_string();
    connection_ = std::move(connected).value();
  }
  std::string line(int id, int subject) {
    return fmt::format(
        R"({{"id":"e{}","subject":"plate:NY:{}","type":"red_light","time":"2024-01-01T00:00:00Z"}})",
        id, subject);
  }

  TempDir dir_{"jetstream"};
  NatsServer server_{dir_.path()};
  std::unique_ptr<nats::Connection> connection_;
};

TEST_F(JetStreamTest, InitMakesTheStreamOnceAndSaysSoTheSecondTime) {
  StreamSpec spec;
  spec.partitions = 8;
  spec.replicas = 1;
  const Result<StreamState> made = init_stream(*connection_, spec);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  EXPECT_TRUE(made->created);
  EXPECT_EQ(made->spec.partitions, 8u);

  spec.partitions = 16;  // a second run changes nothing, whatever it asks
  const Result<StreamState> again = init_stream(*connection_, spec);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->spec.partitions, 8u);
  EXPECT_EQ(again->spec.max_age, std::chrono::seconds(730 * 24 * 3600));

  spec.partitions = 48;  // does not divide the key groups
  EXPECT_EQ(init_stream(*connection_, spec).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(JetStreamTest, PublishesPerPartitionAndAResendIsDroppedByTheServer) {
  StreamSpec spec;
  spec.partitions = 8;
  spec.replicas = 1;
  ASSERT_TRUE(init_stream(*connection_, spec).is_ok());

  JetStreamPublisherOptions options;
  options.urls = {server_.url()};
  options.batch_max_events = 100;
  for (int round = 0; round < 2; ++round) {
    auto publisher = JetStreamPublisher::open(options);
    ASSERT_TRUE(publisher.is_ok()) << publisher.status().to_string();
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE((*publisher)->add(line(i, i % 37)));
    ASSERT_TRUE((*publisher)->add("not json"));
    const JetStreamPublishSummary summary = (*publisher)->finish();
    EXPECT_TRUE(summary.complete()) << summary.failure;
    EXPECT_EQ(summary.events, 2001u);
    EXPECT_EQ(summary.acknowledged_events, 2001u);
    EXPECT_EQ(summary.duplicate_batches, round == 0 ? 0u : summary.batches);
  }
  const Result<StreamState> state = describe_stream(*connection_, "TALLY");
  ASSERT_TRUE(state.is_ok());
  // Every message holds events of one partition; the second round added none.
  EXPECT_GE(state->messages, 8u);
  EXPECT_LE(state->messages, 2001u / 100 + 8 + 1);
}

TEST_F(JetStreamTest, WithoutTheStreamThePublisherSaysHowToMakeIt) {
  JetStreamPublisherOptions options;
  options.urls = {server_.url()};
  auto publisher = JetStreamPublisher::open(options);
  ASSERT_FALSE(publisher.is_ok());
  EXPECT_NE(publisher.status().message().find("tally cluster init"), std::string::npos)
      << publisher.status().to_string();
}

}  // namespace
}  // namespace tally::client
