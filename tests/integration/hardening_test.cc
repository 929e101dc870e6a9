// Hostile input through the real daemon: a flood of junk lines cannot fill
// the disk through the dead-letter file (at most twice the bytes sent, the
// rest counted), a long rejected line is kept cut with its length and hash,
// the file rotates and keeps N, a message over --max-message-bytes is
// refused while the daemon goes on, a huge batch id, subject or op name
// is never echoed back whole, one subject with 20,000 events is applied,
// answered and recovered exactly while others are answered, and an event
// past --max-events-per-subject is refused, named, counted and written.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "api/answers.h"
#include "client/http_get.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/json.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;

// The resident memory of process `pid`, in bytes (VmRSS).
std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  }
  ADD_FAILURE() << "no VmRSS for " << pid;
  return 0;
}

std::uint64_t metric(const std::string& exposition, const std::string& name) {
  const auto at = exposition.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(exposition.substr(at + name.size() + 2));
}

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir_ / "rules.toml", kDemeritRules); }
  std::unique_ptr<DaemonProcess> start(std::vector<std::string> args = {}) {
    return std::make_unique<DaemonProcess>(dir_ / "rules.toml", dir_ / "data", std::move(args));
  }
  std::uint64_t dead_letter_bytes() const {
    std::uint64_t total = 0;
    for (const auto& entry : fs::directory_iterator(dir_ / "data")) {
      if (entry.path().filename().string().rfind("rejected.ndjson", 0) == 0) {
        total += entry.file_size();
      }
    }
    return total;
  }

  TempDir dir_{"hardening"};
};

TEST_F(HardeningTest, AJunkFloodWritesAtMostTwiceItsBytesAndCountsTheRest) {
  auto daemon = start();
  const std::string junk = [] {
    std::string lines;
    for (int i = 0; i < 10'000; ++i) lines += "x\n";
    return lines;
  }();
  for (int message = 0; message < 20; ++message) daemon->push(junk);
  daemon->wait_for_processed(200'000);
  daemon->terminate();  // flushes the file
  const std::uint64_t sent = 20 * junk.size();
  EXPECT_LE(dead_letter_bytes(), 2 * sent + 64 * 1024);
  EXPECT_NE(daemon->output().find("counted but not written"), std::string::npos)
      << daemon->output();

  auto again = start();
  // The counter is per process: a few more junk lines past the allowance.
  for (int message = 0; message < 5; ++message) again->push(junk);
  again->wait_for_processed(50'000);
  EXPECT_GT(metric(again->scrape_metrics(), "tally_rejects_unwritten_total"), 0u);
}

TEST_F(HardeningTest, ALongRejectedLineIsKeptCutWithItsLengthAndHash) {
  auto daemon = start();
  daemon->push(std::string(10'000, 'y') + "\n");
  daemon->wait_for_processed(1);
  daemon->terminate();
  std::ifstream in(dir_ / "data" / "rejected.ndjson");
  std::string record;
  ASSERT_TRUE(std::getline(in, record));
  simdjson::dom::parser parser;
  const auto parsed = parse_json(parser, record);
  EXPECT_EQ(parsed["raw"].get_string().value().size(), 1024u);
  EXPECT_EQ(parsed["raw_bytes"].get_uint64().value(), 10'000u);
  EXPECT_EQ(parsed["raw_blake2b"].get_string().value().size(), 32u);
  EXPECT_LT(record.size(), 2000u);
}

TEST_F(HardeningTest, TheDeadLetterFileRotatesAndKeepsN) {
  auto daemon = start({"--rejects-max-bytes", "20000", "--rejects-keep", "2"});
  std::string batch;
  for (int i = 0; i < 400; ++i) batch += fmt::format("{{\"id\":\"{}\",\"oops\":{}}}\n", i, i);
  for (int message = 0; message < 3; ++message) daemon->push(batch);
  daemon->wait_for_processed(1200);
  daemon->terminate();
  const fs::path data = dir_ / "data";
  EXPECT_TRUE(fs::exists(data / "rejected.ndjson"));
  EXPECT_TRUE(fs::exists(data / "rejected.ndjson.1"));
  EXPECT_TRUE(fs::exists(data / "rejected.ndjson.2"));
  EXPECT_FALSE(fs::exists(data / "rejected.ndjson.3"));
  for (const char* name : {"rejected.ndjson", "rejected.ndjson.1", "rejected.ndjson.2"}) {
    EXPECT_LE(fs::file_size(data / name), 20'000u) << name;
  }
}

TEST_F(HardeningTest, AMessageOverTheLimitIsRefusedAndTheDaemonGoesOn) {
  auto daemon = start({"--max-message-bytes", "100000"});
  daemon->push(event_line("warm", "plate:warm", "red_light", "2024-01-01T00:00:00Z"));
  daemon->wait_for_processed(1);
  const std::uint64_t resident_before = resident_bytes(daemon->pid());
  {
    zmq::context_t context(1);
    zmq::socket_t push(context, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 0);
    push.connect(daemon->ingest());
    // 64 MiB of events: refused from its size header, never buffered.
    std::string big;
    const std::string line = event_line("big", "plate:big", "red_light", "2024-01-01T00:00:00Z");
    while (big.size() < (std::size_t{64} << 20)) big += line;
    push.send(zmq::buffer(big));
    // The sender keeps its socket open: the one close tallyd can count is its
    // own refusal of the message.
    EXPECT_TRUE(eventually(
        [&] {
          return metric(daemon->scrape_metrics(),
                        R"(tally_ingest_connections_total{socket="ingest",event="closed"})") >= 1;
        },
        std::chrono::seconds(30)));
  }
  daemon->push(event_line("small", "plate:small", "red_light", "2024-01-01T00:00:00Z"));
  daemon->wait_for_processed(2);
  EXPECT_EQ(score_of(*daemon, "plate:small"), 3);
  EXPECT_EQ(score_of(*daemon, "plate:big"), 0);  // nothing of it was taken
  // Memory stayed where it was: a few MiB of slack for the queries' answers
  // and allocator noise, far below the 64 MiB sent.
  EXPECT_LT(resident_bytes(daemon->pid()), resident_before + (std::uint64_t{16} << 20));
}

TEST_F(HardeningTest, IdleConnectionsDoNotBlockMetrics) {
  auto daemon = start();
  const std::string rest = daemon->metrics_url().substr(std::string("http://").size());
  const int port = std::stoi(rest.substr(rest.find(':') + 1));
  // Connections that never send a request, more than the old two threads.
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer), 0);
    idle.push_back(fd);
  }
  // Answered while they stay open (the client gives up after 10 s; the
  // defaults held a scrape for 30 s).
  const auto body = client::http_get("127.0.0.1", port, "/metrics", std::chrono::seconds(10));
  EXPECT_TRUE(body.has_value());
  for (const int fd : idle) ::close(fd);
}

TEST_F(HardeningTest, HugeIdsSubjectsAndOpNamesAreNeverEchoedWhole) {
  auto daemon = start();
  zmq::context_t context(1);
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::rcvtimeo, 30'000);
  dealer.connect(daemon->submit());
  const std::string id(100'000, 'i');
  std::array<zmq::const_buffer, 2> frames = {zmq::buffer(id), zmq::str_buffer("{}\n")};
  ASSERT_TRUE(zmq::send_multipart(dealer, frames));
  std::vector<zmq::message_t> answer;
  ASSERT_TRUE(zmq::recv_multipart(dealer, std::back_inserter(answer)));
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_LE(answer[0].size(), 64u);
  EXPECT_NE(answer[1].to_string().find("bad_batch"), std::string::npos);

  const std::string subject(10'000, 's');
  const std::string score = daemon->ask(fmt::format(R"({{"op":"score","subject":"{}"}})", subject));
  EXPECT_NE(score.find("bad_field"), std::string::npos);
  EXPECT_LT(score.size(), 300u);
  const std::string op = daemon->ask(fmt::format(R"({{"op":"{}"}})", std::string(10'000, 'o')));
  EXPECT_NE(op.find("unknown_op"), std::string::npos);
  EXPECT_LT(op.size(), 400u);
}

// A fleet's worth of events for one subject: applying, answering and
// recovering it costs O(n log n), not O(n^2) (a pass per event took 24 s at
// 20,000 events), and the other subjects are answered meanwhile. The score
// is a plain sum (kPlainSumRules), so a lost or doubled event shows.
TEST_F(HardeningTest, OneSubjectWithTwentyThousandEventsIsAppliedAnsweredAndRecovered) {
  write_file(dir_ / "rules.toml", kPlainSumRules);
  auto daemon = start({"--workers", "2"});
  daemon->submit_batch("other", event_line("o1", "plate:other", "large", 1'700'000'000'000));

  constexpr int kEvents = 20'000;
  constexpr int kRevoked = 1'000;
  const auto seed = std::random_device()();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 random(seed);
  const char* types[] = {"small", "medium", "large"};
  const int points[] = {1, 3, 7};
  std::vector<std::string> lines;
  std::vector<int> kind(kEvents);
  std::int64_t expected = 0;
  for (int i = 0; i < kEvents; ++i) {
    kind[i] = static_cast<int>(random() % 3);
    // Times in any order: the worst case for a sorted record.
    const std::int64_t time = 1'600'000'000'000 + static_cast<std::int64_t>(random() % 100'000'000);
    lines.push_back(event_line(fmt::format("f{}", i), "org:fleet", types[kind[i]], time));
    if (i >= kRevoked) expected += points[kind[i]];
  }
  for (int i = 0; i < kRevoked; ++i) {  // revokes of the first thousand, some before their target
    lines.push_back(event_line(fmt::format("r{}", i), "org:fleet", "revoke", 1'700'000'000'000,
                               {.revokes = fmt::format("f{}", i)}));
  }
  std::shuffle(lines.begin(), lines.end(), random);
  for (std::size_t at = 0; at < lines.size(); at += 1'000) {
    std::string batch;
    for (std::size_t i = at; i < std::min(lines.size(), at + 1'000); ++i) batch += lines[i];
    const std::string answer = daemon->submit_batch(fmt::format("b{}", at), batch);
    ASSERT_NE(answer.find(R"("accepted":1000)"), std::string::npos) << answer;
    // Another subject is answered between the fleet's batches.
    ASSERT_EQ(score_of(*daemon, "plate:other"), 7);
  }
  EXPECT_EQ(score_of(*daemon, "org:fleet"), expected);

  const auto explain =
      api::parse_answer<api::ExplainAnswer>(daemon->ask(subject_request("explain", "org:fleet")));
  ASSERT_TRUE(explain) << explain.status().to_string();
  EXPECT_EQ(explain->contributions.size(), static_cast<std::size_t>(kEvents - kRevoked));
  EXPECT_EQ(explain->revoked.size(), static_cast<std::size_t>(kRevoked));
  for (const auto& revoked : explain->revoked) EXPECT_EQ(revoked.revocation.by[0], 'r');

  const auto history =
      api::parse_answer<api::HistoryAnswer>(daemon->ask(subject_request("history", "org:fleet")));
  ASSERT_TRUE(history) << history.status().to_string();
  EXPECT_EQ(history->timeline.size(), static_cast<std::size_t>(kEvents + kRevoked));
  EXPECT_EQ(history->timeline.back().score, expected);

  // From the journal alone (no snapshot at a kill), then from the snapshot.
  daemon->kill_hard();
  daemon = start({"--workers", "3"});
  EXPECT_EQ(score_of(*daemon, "org:fleet"), expected);
  EXPECT_EQ(daemon->terminate(), 0);
  daemon = start({"--workers", "1"});
  EXPECT_EQ(score_of(*daemon, "org:fleet"), expected);
  EXPECT_EQ(score_of(*daemon, "plate:other"), 7);
}

// --max-events-per-subject: the events past it are refused with the reason
// `subject_full`: in the batch's answer with their lines, in the dead-letter
// file, in the counters; fire-and-forget ones too; other subjects go on.
TEST_F(HardeningTest, EventsPastMaxEventsPerSubjectAreRefusedNamedCountedAndWritten) {
  auto daemon = start({"--max-events-per-subject", "5"});
  std::string batch;
  for (int i = 1; i <= 7; ++i) {
    batch += event_line(fmt::format("e{}", i), "plate:busy", "red_light", "2026-01-01T00:00:00Z");
  }
  batch += event_line("q1", "plate:quiet", "speeding", "2026-01-01T00:00:00Z");
  batch += event_line("e2", "plate:busy", "red_light", "2026-01-01T00:00:00Z");  // held: duplicate
  const std::string answer = daemon->submit_batch("full", batch);
  EXPECT_NE(answer.find(R"("accepted":6,"duplicates":1)"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"({"line":6,"reason":"subject_full"},{"line":7,"reason":"subject_full"})"),
            std::string::npos)
      << answer;
  EXPECT_EQ(score_of(*daemon, "plate:busy"), 15);

  daemon->push(event_line("e8", "plate:busy", "red_light", "2026-01-02T00:00:00Z"));
  daemon->wait_for_processed(10);
  EXPECT_EQ(
      metric(daemon->scrape_metrics(), "tally_events_rejected_total{reason=\"subject_full\"}"), 3u);
  EXPECT_EQ(daemon->terminate(), 0);
  const std::string dead = read_file(dir_ / "data" / "rejected.ndjson");
  for (const char* id : {"e6", "e7", "e8"}) {
    EXPECT_NE(dead.find(fmt::format(R"(\"id\":\"{}\")", id)), std::string::npos) << dead;
  }
  EXPECT_NE(dead.find(R"("channel":"submit","batch":"full","line":6,"reason":"subject_full")"),
            std::string::npos)
      << dead;
  EXPECT_NE(dead.find(R"("channel":"ingest")"), std::string::npos) << dead;
}

}  // namespace
}  // namespace tally::testing
