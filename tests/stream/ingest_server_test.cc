// IngestServer over real ZeroMQ sockets (port 0), in front of a QueueMatrix
// whose workers are one test thread: routing by key group, an acknowledged
// batch answered only once its ticket comes back, rejects counted, answered
// and dead-lettered, framing errors, a REQ client's envelope, backpressure
// from a full queue with nothing dropped, and batches taken before a stop
// still answered.
#include "stream/ingest_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <zmq_addon.hpp>

#include "core/backoff.h"
#include "core/key_groups.h"
#include "tests/support/events.h"
#include "tests/support/files.h"
#include "tests/support/queries.h"

namespace tally::stream {
namespace {

using namespace std::chrono_literals;
using tally::testing::event_line;
using tally::testing::eventually;

constexpr auto kTimeout = 30s;

class TestTypes final : public EventTypeResolver {
 public:
  const EventTypeTerms* resolve(std::string_view type) const noexcept override {
    if (type == "red_light") return &red_light_;
    if (type == "revoke") return &revoke_;
    return nullptr;
  }

 private:
  EventTypeTerms red_light_{3, kNever, false};
  EventTypeTerms revoke_{0, kNever, true};
};

// Stands in for the shard workers: one thread consumes every worker's queue
// and does what a worker does with a batch's ticket: counts its events
// (an id seen before is a duplicate), and at the batch's end marker adds its
// counts and hands the ticket back, the last worker to the done queue. A
// test may pause it (queues fill up) or hold tickets (batches stay
// unanswered) and wait for what it has seen.
class TestWorkers {
 public:
  struct Seen {
    std::uint32_t worker;
    std::string id;
    std::string subject;
    std::uint64_t subject_hash;
  };

  TestWorkers(QueueMatrix& queues, std::vector<std::unique_ptr<TicketQueue>>& done)
      : queues_(queues), done_(done), counts_(done.size()) {
    thread_ = std::thread([this] { run(); });
  }
  ~TestWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      paused_ = false;
    }
    changed_.notify_all();
    thread_.join();
  }

  void pause(bool paused) {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = paused;
    changed_.notify_all();
  }
  void hold_tickets(bool hold) {
    std::vector<std::pair<std::uint32_t, BatchTicket*>> held;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hold_ = hold;
      if (!hold) held.swap(held_);
    }
    for (const auto& [worker, ticket] : held) hand_back(worker, ticket);
  }
  // Waits until `condition` (called under the lock) holds; whether it did in time.
  bool wait_until(const std::function<bool()>& condition) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kTimeout, condition);
  }
  // Under the lock, as wait_until's condition reads them.
  const std::vector<Seen>& seen() const { return seen_; }
  std::size_t held() const { return held_.size(); }
  std::size_t markers() const { return markers_; }
  std::vector<Seen> seen_copy() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  struct Counts {
    std::uint64_t accepted = 0;
    std::uint64_t duplicates = 0;
  };

  void run() {
    Backoff backoff;
    std::array<WorkItem, 64> items;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return stop_ || !paused_; });
        if (stop_) return;
      }
      bool any = false;
      for (std::uint32_t worker = 0; worker < done_.size(); ++worker) {
        const std::size_t n = queues_.at(0, worker).pop(items.data(), items.size());
        for (std::size_t i = 0; i < n; ++i) take(worker, items[i]);
        any = any || n > 0;
      }
      if (any) {
        backoff.reset();
      } else {
        backoff.pause();
      }
    }
  }

  void take(std::uint32_t worker, const WorkItem& item) {
    BatchTicket* to_hand_back = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (item.kind == WorkKind::kEvent) {
        seen_.push_back({worker, std::string(item.event.id.view()),
                         std::string(item.event.subject.view()), item.event.subject_hash});
        if (item.ticket != nullptr) {
          const bool fresh = ids_.insert(std::string(item.event.id.view())).second;
          (fresh ? counts_[worker].accepted : counts_[worker].duplicates) += 1;
        }
      } else if (item.kind == WorkKind::kBatchEnd) {
        ++markers_;
        item.ticket->accepted.fetch_add(counts_[worker].accepted);
        item.ticket->duplicates.fetch_add(counts_[worker].duplicates);
        counts_[worker] = {};
        if (hold_) {
          held_.emplace_back(worker, item.ticket);
        } else {
          to_hand_back = item.ticket;
        }
      }
      changed_.notify_all();
    }
    if (to_hand_back != nullptr) hand_back(worker, to_hand_back);
  }

  void hand_back(std::uint32_t worker, BatchTicket* ticket) {
    if (ticket->pending_workers.fetch_sub(1) != 1) return;
    while (!done_[worker]->push(ticket)) std::this_thread::yield();
  }

  QueueMatrix& queues_;
  std::vector<std::unique_ptr<TicketQueue>>& done_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;
  bool paused_ = false;
  bool hold_ = false;
  std::vector<Seen> seen_;
  std::set<std::string> ids_;
  std::vector<Counts> counts_;
  std::vector<std::pair<std::uint32_t, BatchTicket*>> held_;
  std::size_t markers_ = 0;
  std::thread thread_;  // last: starts once the rest is built
};

std::vector<TicketQueue*> pointers(std::vector<std::unique_ptr<TicketQueue>>& queues) {
  std::vector<TicketQueue*> result;
  for (auto& queue : queues) result.push_back(queue.get());
  return result;
}

class IngestServerTest : public ::testing::Test {
 protected:
  // The server, its ingest thread and the test workers, for `workers` workers.
  void start(std::uint32_t workers) {
    queues_ = std::make_unique<QueueMatrix>(1, workers);
    groups_ = std::make_unique<KeyGroupMap>(workers);
    for (std::uint32_t w = 0; w < workers; ++w) done_.push_back(std::make_unique<TicketQueue>());
    IngestOptions options;
    options.ingest_bind = "tcp://127.0.0.1:*";
    options.submit_bind = "tcp://127.0.0.1:*";
    options.rejects.path = (dir_ / "rejected.ndjson").string();
    server_ = std::make_unique<IngestServer>(options, context_, *queues_, 0, *groups_, types_,
                                             event_clock_, pointers(done_));
    server_->bind();
    workers_ = std::make_unique<TestWorkers>(*queues_, done_);
    ingest_thread_ = std::thread([this] { server_->run(stop_); });
  }

  // Stops the ingest thread (it answers what it took), then the workers.
  void stop() {
    if (!ingest_thread_.joinable()) return;
    workers_->pause(false);
    workers_->hold_tickets(false);
    stop_.store(true);
    ingest_thread_.join();
    workers_.reset();
  }

  void TearDown() override {
    clients_.clear();
    stop();
  }

  zmq::socket_t& client(zmq::socket_type type, const std::string& endpoint) {
    auto& socket = clients_.emplace_back(context_, type);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
    return socket;
  }
  zmq::socket_t& dealer() { return client(zmq::socket_type::dealer, server_->submit_endpoint()); }
  zmq::socket_t& pusher() { return client(zmq::socket_type::push, server_->ingest_endpoint()); }

  static void send(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    std::vector<zmq::const_buffer> buffers;
    for (const std::string& frame : frames) buffers.push_back(zmq::buffer(frame));
    ASSERT_TRUE(zmq::send_multipart(socket, buffers));
  }
  // The next message's frames, or none within `timeout`.
  static std::vector<std::string> receive(zmq::socket_t& socket,
                                          std::chrono::milliseconds timeout = kTimeout) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, timeout);
    std::vector<std::string> frames;
    if ((item.revents & ZMQ_POLLIN) == 0) return frames;
    std::vector<zmq::message_t> messages;
    (void)zmq::recv_multipart(socket, std::back_inserter(messages), zmq::recv_flags::dontwait);
    for (const auto& message : messages) frames.push_back(message.to_string());
    return frames;
  }

  std::uint64_t rejected(RejectReason reason) const {
    return server_->counters().rejected[static_cast<std::size_t>(reason)].load();
  }

  tally::testing::TempDir dir_{"ingest"};
  zmq::context_t context_{1};
  TestTypes test_types_;
  std::atomic<const EventTypeResolver*> types_{&test_types_};
  std::atomic<std::int64_t> event_clock_{0};
  std::unique_ptr<QueueMatrix> queues_;
  std::unique_ptr<KeyGroupMap> groups_;
  std::vector<std::unique_ptr<TicketQueue>> done_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<TestWorkers> workers_;
  std::atomic<bool> stop_{false};
  std::thread ingest_thread_;
  std::deque<zmq::socket_t> clients_;
  simdjson::dom::parser parser_;
};

TEST_F(IngestServerTest, RoutesEachEventToTheWorkerOwningItsSubjectsKeyGroup) {
  start(4);
  std::string batch;
  for (int i = 0; i < 200; ++i) {
    // Two events per subject, to see that a subject's events keep their order.
    batch += event_line(fmt::format("a{}", i), fmt::format("plate:{}", i % 100), "red_light",
                        std::int64_t{1000} + i);
  }
  send(pusher(), {batch});
  ASSERT_TRUE(workers_->wait_until([&] { return workers_->seen().size() == 200; }));

  std::vector<std::size_t> per_worker(4);
  std::map<std::string, std::vector<std::string>> ids_of;
  for (const TestWorkers::Seen& seen : workers_->seen_copy()) {
    EXPECT_EQ(seen.subject_hash, stable_hash64(seen.subject));
    EXPECT_EQ(seen.worker, groups_->worker_of(stable_hash64(seen.subject))) << seen.subject;
    ++per_worker[seen.worker];
    ids_of[seen.subject].push_back(seen.id);
  }
  for (std::size_t w = 0; w < 4; ++w) EXPECT_GT(per_worker[w], 0u) << "worker " << w;
  for (const auto& [subject, ids] : ids_of) {
    const int n = std::stoi(subject.substr(6));
    EXPECT_EQ(ids, (std::vector<std::string>{fmt::format("a{}", n), fmt::format("a{}", n + 100)}));
  }
  // The counters and the clock move as the events are queued, which the
  // workers may see first.
  const IngestCounters& counters = server_->counters();
  EXPECT_TRUE(eventually(
      [&] {
        return counters.received.load() == 200 && counters.routed.load() == 200 &&
               event_clock_.load() == 1199;  // the largest event time seen
      },
      kTimeout))
      << counters.received.load() << " received, " << counters.routed.load() << " routed, clock "
      << event_clock_.load();
  EXPECT_EQ(counters.messages.load(), 1u);
}

TEST_F(IngestServerTest, AnAcknowledgedBatchIsAnsweredOnlyAfterItsTicketComesBack) {
  start(4);
  workers_->hold_tickets(true);
  zmq::socket_t& client = dealer();
  const std::vector<std::string> subjects = {"s1", "s2", "s3", "s4", "s5", "s6"};
  std::string batch;
  std::set<std::uint32_t> touched;
  for (const std::string& subject : subjects) {
    batch += event_line(fmt::format("id-{}", subject), subject, "red_light", 5);
    touched.insert(groups_->worker_of(stable_hash64(subject)));
  }
  batch += event_line("id-s1", "s1", "red_light", 5);  // a duplicate
  send(client, {"batch-1", batch});

  // Every touched worker has its end marker, and holds the ticket.
  ASSERT_TRUE(workers_->wait_until([&] { return workers_->held() == touched.size(); }));
  EXPECT_TRUE(receive(client, 50ms).empty()) << "answered before the workers handed it back";

  workers_->hold_tickets(false);
  const std::vector<std::string> answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0], "batch-1");
  EXPECT_EQ(answer[1], R"({"accepted":6,"duplicates":1,"rejected":[]})");
  // Counted once sent, which the client may hear first.
  EXPECT_TRUE(eventually([&] { return server_->counters().acks_sent.load() == 1; }, kTimeout));
}

TEST_F(IngestServerTest, RejectedLinesAreCountedAnsweredAndDeadLettered) {
  start(2);
  zmq::socket_t& client = dealer();
  const std::string batch = event_line("g1", "s", "red_light", 1) + "{not json\n" +
                            event_line("u1", "s", "jaywalking", 1) +
                            event_line("t1", "s", "red_light", "yesterday") + "\n" +
                            event_line("g2", "s", "red_light", 2);
  send(client, {"b-rej", batch});
  const std::vector<std::string> answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  // The blank line 5 is skipped, not counted, but counts for line numbers.
  EXPECT_EQ(answer[1],
            R"({"accepted":2,"duplicates":0,"rejected":[{"line":2,"reason":"malformed_json"},)"
            R"({"line":3,"reason":"unknown_type"},{"line":4,"reason":"bad_time"}]})");
  send(pusher(), {"[1,2]\n"});
  const auto& counters = server_->counters();
  ASSERT_TRUE(eventually([&] { return counters.received.load() == 6; }, kTimeout));
  EXPECT_EQ(rejected(RejectReason::kMalformedJson), 2u);
  EXPECT_EQ(rejected(RejectReason::kUnknownType), 1u);
  EXPECT_EQ(rejected(RejectReason::kBadTime), 1u);
  EXPECT_EQ(counters.received.load(), 6u);
  EXPECT_EQ(counters.routed.load(), 2u);

  stop();  // the dead-letter file is flushed by then
  std::istringstream lines(tally::testing::read_file(dir_ / "rejected.ndjson"));
  std::vector<std::string> records;
  for (std::string line; std::getline(lines, line);) records.push_back(line);
  ASSERT_EQ(records.size(), 4u);
  const std::array<std::tuple<const char*, const char*, std::uint64_t, const char*, const char*>, 4>
      expected = {{{"submit", "b-rej", 2, "malformed_json", "{not json"},
                   {"submit", "b-rej", 3, "unknown_type", nullptr},
                   {"submit", "b-rej", 4, "bad_time", nullptr},
                   {"ingest", nullptr, 1, "malformed_json", "[1,2]"}}};
  for (std::size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(records[i]);
    simdjson::dom::element record;
    ASSERT_EQ(parser_.parse(records[i]).get(record), simdjson::SUCCESS);
    const auto& [channel, batch_id, line, reason, raw] = expected[i];
    EXPECT_EQ(record["channel"].get_string().value(), channel);
    std::string_view got_batch;
    if (batch_id != nullptr) {
      ASSERT_EQ(record["batch"].get_string().get(got_batch), simdjson::SUCCESS);
      EXPECT_EQ(got_batch, batch_id);
    } else {
      EXPECT_NE(record["batch"].get_string().get(got_batch), simdjson::SUCCESS);
    }
    EXPECT_EQ(record["line"].get_uint64().value(), line);
    EXPECT_EQ(record["reason"].get_string().value(), reason);
    if (raw != nullptr) {
      EXPECT_EQ(record["raw"].get_string().value(), raw);
    }
  }
}

TEST_F(IngestServerTest, BadFramingIsAnsweredBadBatchAndCounted) {
  start(1);
  zmq::socket_t& client = dealer();
  send(client, {"only-one-frame"});
  std::vector<std::string> answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0], "only-one-frame");
  EXPECT_EQ(answer[1],
            R"({"error":{"code":"bad_batch","message":"expected 2 frames (batch id, NDJSON )"
            R"(payload), got 1"}})");

  send(client, {std::string(65, 'x'), event_line("e", "s", "red_light", 1)});
  answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[1],
            R"({"error":{"code":"bad_batch","message":"batch id is 65 bytes; at most 64"}})");
  EXPECT_EQ(server_->counters().bad_batches.load(), 2u);
  EXPECT_EQ(server_->counters().routed.load(), 0u);
}

TEST_F(IngestServerTest, AReqClientIsAnsweredThroughItsEnvelope) {
  start(2);
  zmq::socket_t& client = this->client(zmq::socket_type::req, server_->submit_endpoint());
  send(client, {"req-1", event_line("r1", "s", "red_light", 1)});
  const std::vector<std::string> answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0], "req-1");
  EXPECT_EQ(answer[1], R"({"accepted":1,"duplicates":0,"rejected":[]})");
}

TEST_F(IngestServerTest, AFullQueueBlocksIngestAndNothingIsDropped) {
  start(1);
  workers_->pause(true);
  constexpr std::size_t kEvents = 2 * kWorkQueueCapacity + 100;
  std::string batch;
  for (std::size_t i = 0; i < kEvents; ++i) {
    batch += event_line(fmt::format("e{}", i), fmt::format("s{}", i % 7), "red_light", 1);
  }
  send(pusher(), {batch});
  ASSERT_TRUE(eventually([&] { return queues_->at(0, 0).write_available() == 0; }, kTimeout))
      << "the queue never filled";
  // The ingest thread waits inside the batch: it has neither dropped events
  // nor finished the message.
  EXPECT_LT(server_->counters().routed.load(), kEvents);
  EXPECT_EQ(server_->counters().received.load(), 0u);

  workers_->pause(false);
  ASSERT_TRUE(workers_->wait_until([&] { return workers_->seen().size() == kEvents; }));
  const std::vector<TestWorkers::Seen> seen = workers_->seen_copy();
  for (std::size_t i = 0; i < kEvents; ++i) {
    ASSERT_EQ(seen[i].id, fmt::format("e{}", i)) << "out of order or lost";
  }
  const IngestCounters& counters = server_->counters();
  EXPECT_TRUE(eventually(
      [&] { return counters.received.load() == kEvents && counters.routed.load() == kEvents; },
      kTimeout));
}

TEST_F(IngestServerTest, BatchesTakenBeforeAStopAreStillAnswered) {
  start(2);
  workers_->hold_tickets(true);
  zmq::socket_t& client = dealer();
  send(client,
       {"last", event_line("l1", "a", "red_light", 1) + event_line("l2", "b", "red_light", 1)});
  // Both events applied and every end marker's ticket held.
  ASSERT_TRUE(workers_->wait_until([&] {
    return workers_->seen().size() == 2 && workers_->markers() > 0 &&
           workers_->held() == workers_->markers();
  }));
  stop_.store(true);              // stops taking events...
  workers_->hold_tickets(false);  // ...and answers once the tickets come back
  const std::vector<std::string> answer = receive(client);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[1], R"({"accepted":2,"duplicates":0,"rejected":[]})");
}

}  // namespace
}  // namespace tally::stream
