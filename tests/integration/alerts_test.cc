// Tier-change alerts no consumer can miss, end to end: the real tallyd, a
// real SUB socket that falls behind, the alert log through the `alerts` op,
// `tally alerts --follow` started in the middle of a burst, and the seq
// going on across SIGTERM, SIGKILL and a log that lost its last alerts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "api/answers.h"
#include "tests/support/acknowledged_sender.h"
#include "tests/support/child_process.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Each subject of a burst gets two red lights (6 points) in one batch: one
// tier change, clear to warning, per subject.
std::string burst_batch(const std::string& prefix, int first, int count) {
  std::string batch;
  for (int i = first; i < first + count; ++i) {
    const std::string subject = fmt::format("{}-{}", prefix, i);
    batch += event_line(subject + "/a", subject, "red_light", "2024-05-01T00:00:00Z");
    batch += event_line(subject + "/b", subject, "red_light", "2024-05-02T00:00:00Z");
  }
  return batch;
}

constexpr int kPerBatch = 500;  // subjects (tier changes) per batch

void send_burst(DaemonProcess& daemon, const std::string& prefix, int subjects) {
  for (int first = 0; first < subjects; first += kPerBatch) {
    daemon.submit_batch(fmt::format("{}-{}", prefix, first),
                        burst_batch(prefix, first, std::min(kPerBatch, subjects - first)));
  }
}

api::AlertsAnswer log_page(DaemonProcess& daemon, std::uint64_t since,
                           std::uint64_t limit = api::kMaxAlertsLimit) {
  const std::string answer =
      daemon.ask(api::to_json(api::Request(api::AlertsRequest{since, limit})));
  auto page = api::parse_answer<api::AlertsAnswer>(answer);
  EXPECT_TRUE(page.is_ok()) << page.status().to_string();
  return page.is_ok() ? std::move(page).value() : api::AlertsAnswer{};
}

// Every alert the log keeps, paged as a client would.
std::vector<api::AlertBody> whole_log(DaemonProcess& daemon) {
  std::vector<api::AlertBody> alerts;
  std::uint64_t since = 1;
  while (true) {
    api::AlertsAnswer page = log_page(daemon, since);
    for (api::AlertBody& alert : page.alerts) alerts.push_back(std::move(alert));
    if (page.alerts.empty() || page.next > page.last) break;
    since = page.next;
  }
  return alerts;
}

bool log_reaches(DaemonProcess& daemon, std::uint64_t last) {
  return eventually([&] { return log_page(daemon, 1, 1).last >= last; }, 60s, 20ms);
}

// Seqs 1..n, each once, in order; each burst subject alerted exactly once.
void expect_complete(const std::vector<api::AlertBody>& alerts, std::uint64_t n) {
  ASSERT_EQ(alerts.size(), n);
  std::set<std::string> subjects;
  for (std::uint64_t i = 0; i < n; ++i) {
    ASSERT_EQ(alerts[i].seq, i + 1) << "at index " << i;
    EXPECT_TRUE(subjects.insert(alerts[i].subject).second) << alerts[i].subject << " twice";
    EXPECT_EQ(alerts[i].from, "clear");
    EXPECT_EQ(alerts[i].to, "warning");
    EXPECT_EQ(alerts[i].score, 6);
    EXPECT_FALSE(alerts[i].by_expiry);
  }
}

// The JSON alert lines a `tally alerts` printed (its summary goes elsewhere).
std::vector<api::AlertBody> printed_alerts(const std::string& output) {
  std::vector<api::AlertBody> alerts;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("{\"seq\":")) continue;
    auto alert = api::parse_alert(line);
    EXPECT_TRUE(alert.is_ok()) << line;
    if (alert.is_ok()) alerts.push_back(std::move(alert).value());
  }
  return alerts;
}

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir_ / "rules.toml", kDemeritRules); }

  DaemonProcess start(std::vector<std::string> extra = {}) {
    return DaemonProcess(dir_ / "rules.toml", dir_ / "data", std::move(extra));
  }

  std::vector<std::string> tally_alerts(const DaemonProcess& daemon,
                                        std::vector<std::string> flags) const {
    std::vector<std::string> argv = {tally_path(), "--query",  daemon.query(),
                                     "alerts",     "--alerts", daemon.alerts()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  TempDir dir_{"alerts"};
};

TEST_F(AlertsTest, ASlowSubscriberSeesGapsInSeqAndTheLogFillsEveryOne) {
  auto daemon = start({"--workers", "2"});
  zmq::context_t context(1);
  zmq::socket_t slow(context, zmq::socket_type::sub);
  slow.set(zmq::sockopt::rcvhwm, 100);
  slow.set(zmq::sockopt::linger, 0);
  slow.set(zmq::sockopt::subscribe, "");
  slow.connect(daemon.alerts());
  std::map<std::uint64_t, std::string> heard;  // seq -> body, as the subscriber got it
  const auto hear = [&](std::chrono::milliseconds wait) {
    std::vector<zmq::message_t> frames;
    zmq::pollitem_t item{slow.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, wait) == 0) return false;
    if (!zmq::recv_multipart(slow, std::back_inserter(frames))) return false;
    auto alert = api::parse_alert(frames.at(1).to_string_view());
    EXPECT_TRUE(alert.is_ok()) << frames.at(1).to_string();
    EXPECT_EQ(frames.at(0).to_string(), alert->to);
    heard[alert->seq] = frames.at(1).to_string();
    return true;
  };
  // PUB/SUB joins asynchronously: make alerts until one is heard.
  int probes = 0;
  ASSERT_TRUE(eventually(
      [&] {
        daemon.submit_batch(fmt::format("probe-{}", probes), burst_batch("probe", probes, 1));
        ++probes;
        return hear(200ms);
      },
      60s));

  // Fifty thousand tier changes while the subscriber does not read.
  constexpr int kBurst = 50'000;
  send_burst(daemon, "burst", kBurst);
  const std::uint64_t total = static_cast<std::uint64_t>(probes) + kBurst;
  ASSERT_TRUE(log_reaches(daemon, total));
  while (hear(1000ms)) {
  }
  ASSERT_FALSE(heard.empty());
  std::uint64_t gaps = 0;
  std::uint64_t previous = 0;
  for (const auto& [seq, body] : heard) {
    if (seq != previous + 1) ++gaps;
    previous = seq;
  }
  // A slow daemon (a sanitizer build) may lose only the end of the burst: no
  // later alert shows that jump, the log's `last` does.
  if (previous < total) ++gaps;
  EXPECT_LT(heard.size(), total) << "the subscriber was meant to fall behind";
  EXPECT_GT(gaps, 0u) << "the subscriber saw seq jump where it lost alerts";

  // The log has every seq exactly once, and the very bodies published.
  const std::vector<api::AlertBody> logged = whole_log(daemon);
  expect_complete(logged, total);
  for (const auto& [seq, body] : heard) EXPECT_EQ(body, api::to_json(logged.at(seq - 1)));

  // `tally alerts` prints the same, from the log alone.
  const ProgramResult dump = run_program(tally_alerts(daemon, {"--since", "1"}));
  EXPECT_EQ(dump.exit_code, 0) << dump.output.substr(dump.output.size() - 500);
  const std::vector<api::AlertBody> printed = printed_alerts(dump.output);
  ASSERT_EQ(printed.size(), total);
  for (std::uint64_t i = 0; i < total; ++i) EXPECT_EQ(printed[i], logged[i]);

  const std::string metrics = daemon.scrape_metrics();
  EXPECT_NE(metrics.find(fmt::format("tally_alerts_published_total {}", total)), std::string::npos);
  EXPECT_NE(metrics.find(fmt::format("tally_alert_log_next_seq {}", total + 1)), std::string::npos);
  EXPECT_NE(metrics.find("tally_alert_log_oldest_seq 1\n"), std::string::npos);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(AlertsTest, FollowStartedInTheMiddleOfABurstPrintsEveryAlertExactlyOnce) {
  auto daemon = start({"--workers", "2"});
  constexpr int kBurst = 20'000;
  std::thread sender([&] {
    zmq::context_t context(1);
    for (int first = 0; first < kBurst; first += kPerBatch) {
      submit_until_answered(context, daemon.submit(), fmt::format("f-{}", first),
                            burst_batch("follow", first, kPerBatch));
    }
  });
  // Mid-burst: some alerts are out already, most are still to come.
  const bool started_mid_burst = log_reaches(daemon, 2'000);
  std::optional<ChildProcess> follower;
  if (started_mid_burst) {
    follower.emplace(tally_alerts(daemon, {"--follow", "--since", "1"}),
                     ChildProcess::Stderr::kInherited);
  }
  sender.join();
  ASSERT_TRUE(started_mid_burst);
  ASSERT_TRUE(log_reaches(daemon, kBurst));
  const auto last_line = follower->wait_for_line(
      [](std::string_view line) { return line.starts_with(R"({"seq":20000,)"); }, 60s);
  ASSERT_TRUE(last_line.has_value()) << "tally alerts --follow never printed seq 20000";
  follower->send_signal(SIGTERM);
  EXPECT_EQ(follower->wait(30s), 0);
  ASSERT_TRUE(follower->wait_for_output_end(30s));
  const std::vector<api::AlertBody> printed = printed_alerts(follower->output());
  expect_complete(printed, kBurst);
  const std::vector<api::AlertBody> logged = whole_log(daemon);
  EXPECT_EQ(printed, logged);
  EXPECT_EQ(daemon.terminate(), 0);
}

// The alert log's newest segment, and the offsets of its records.
struct Segment {
  fs::path path;
  std::vector<std::size_t> record_offsets;
};

Segment newest_segment(const fs::path& alerts_dir) {
  Segment newest;
  for (const auto& entry : fs::directory_iterator(alerts_dir)) {
    if (newest.path.empty() || entry.path().filename() > newest.path.filename()) {
      newest.path = entry.path();
    }
  }
  const std::string bytes = read_file(newest.path);
  for (std::size_t at = 16; at + 8 <= bytes.size();) {
    std::uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at, sizeof length);
    newest.record_offsets.push_back(at);
    at += 8 + length;
  }
  return newest;
}

TEST_F(AlertsTest, SeqGoesOnAfterSigtermAndSigkillAndTheJournalRestoresWhatTheLogLost) {
  {
    auto daemon = start({"--workers", "2"});
    send_burst(daemon, "first", 300);
    ASSERT_TRUE(log_reaches(daemon, 300));
    EXPECT_EQ(daemon.terminate(), 0);
  }
  {
    auto daemon = start({"--workers", "3"});
    EXPECT_NE(daemon.output().find("alert log: seq 1 to 300 kept"), std::string::npos)
        << daemon.output();
    send_burst(daemon, "second", 300);
    // A snapshot drops the journals it replaces: their alerts are logged first.
    EXPECT_NE(daemon.ask(R"({"op":"snapshot"})").find("\"snapshot\""), std::string::npos);
    send_burst(daemon, "third", 300);
    ASSERT_TRUE(log_reaches(daemon, 900));
    daemon.kill_hard();
  }
  // As if the crash had come between the journal's write and the log's: the
  // log lost its last five alerts; the journal still has them.
  const Segment segment = newest_segment(dir_ / "data" / "alerts");
  ASSERT_GT(segment.record_offsets.size(), 5u);
  fs::resize_file(segment.path, segment.record_offsets[segment.record_offsets.size() - 5]);
  {
    auto daemon = start({"--workers", "2"});
    EXPECT_NE(daemon.output().find("5 restored from the journals"), std::string::npos)
        << daemon.output();
    ASSERT_TRUE(log_reaches(daemon, 900));
    send_burst(daemon, "fourth", 300);
    ASSERT_TRUE(log_reaches(daemon, 1200));
    const std::vector<api::AlertBody> logged = whole_log(daemon);
    expect_complete(logged, 1200);
    for (std::uint64_t i = 0; i < 1200; ++i) {
      const char* prefix = i < 300   ? "first-"
                           : i < 600 ? "second-"
                           : i < 900 ? "third-"
                                     : "fourth-";
      EXPECT_TRUE(logged[i].subject.starts_with(prefix)) << i << ": " << logged[i].subject;
    }
    EXPECT_NE(daemon.scrape_metrics().find("tally_alerts_restored_total 5"), std::string::npos);
    EXPECT_EQ(daemon.terminate(), 0);
  }
}

TEST_F(AlertsTest, RetentionDropsTheOldestAlertsAndTheAnswerSaysHowManyWereMissed) {
  auto daemon = start({"--workers", "2", "--alerts-max-bytes", "65536"});
  for (int round = 0; round < 20; ++round) {
    send_burst(daemon, fmt::format("r{}", round), 100);
    ASSERT_TRUE(log_reaches(daemon, static_cast<std::uint64_t>(round + 1) * 100));
  }
  const api::AlertsAnswer page = log_page(daemon, 1, 10);
  EXPECT_GT(page.oldest, 1u) << "2000 alerts do not fit in 64 KiB";
  EXPECT_EQ(page.missed, page.oldest - 1);
  ASSERT_FALSE(page.alerts.empty());
  EXPECT_EQ(page.alerts.front().seq, page.oldest);
  EXPECT_EQ(page.last, 2000u);
  const std::string metrics = daemon.scrape_metrics();
  EXPECT_NE(metrics.find(fmt::format("tally_alert_log_oldest_seq {}\n", page.oldest)),
            std::string::npos);

  // A consumer that asks for what is gone is told, and exits 1.
  const ProgramResult dump = run_program(tally_alerts(daemon, {"--since", "1"}));
  EXPECT_EQ(dump.exit_code, 1) << dump.output.substr(dump.output.size() - 500);
  EXPECT_NE(dump.output.find(fmt::format("{} missed", page.oldest - 1)), std::string::npos)
      << dump.output.substr(dump.output.size() - 500);
  const std::vector<api::AlertBody> printed = printed_alerts(dump.output);
  ASSERT_FALSE(printed.empty());
  EXPECT_EQ(printed.front().seq, page.oldest);
  EXPECT_EQ(printed.back().seq, 2000u);
  EXPECT_EQ(daemon.terminate(), 0);
}

}  // namespace
}  // namespace tally::testing
