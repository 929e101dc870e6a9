// The source adapters against the real tallyd: tally-camera on the NYC
// camera export (the shared sample of 501 records when present, and always the
// 81-row extract in samples/), with every plate's score checked against an
// independent computation done here from the CSV and the rules file; NYC
// hearing outcomes and a back office's decisions through tally-enforcement
// (upheld, then quashed: the points go back); a followed live file; gzip and
// directories; pseudonyms; and the command line's errors.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <toml++/toml.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/nyc_export_oracle.h"
#include "tests/support/daemon_process.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;

std::string camera_path() { return std::string(TALLY_BINARY_DIR) + "/apps/tally-camera"; }
std::string enforcement_path() { return std::string(TALLY_BINARY_DIR) + "/apps/tally-enforcement"; }
fs::path source_dir() { return TALLY_SOURCE_DIR; }

// The shared NYC sample, if this checkout sits beside it (TALLY_SHARED_DATA
// overrides where to look).
fs::path shared_sample() {
  const char* dir = std::getenv("TALLY_SHARED_DATA");
  return (dir != nullptr ? fs::path(dir) : source_dir() / ".." / "shared" / "data") /
         "nyc-camera-violations.csv";
}

// `at`: empty for "now", digits for epoch milliseconds, else RFC 3339.
std::int64_t score_of(DaemonProcess& daemon, const std::string& subject,
                      const std::string& at = "") {
  simdjson::dom::parser parser;
  const bool digits = !at.empty() && at.find_first_not_of("0123456789") == std::string::npos;
  const std::string request = at.empty()
                                  ? fmt::format(R"({{"op":"score","subject":"{}"}})", subject)
                                  : fmt::format(R"({{"op":"score","subject":"{}","at":{}}})",
                                                subject, digits ? at : "\"" + at + "\"");
  const std::string answer = daemon.ask(request);
  std::int64_t score = -1;
  EXPECT_EQ(parse_json(parser, answer)["score"].get_int64().get(score), simdjson::SUCCESS)
      << answer;
  return score;
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    count += line.find(needle) != std::string::npos;
  return count;
}

class AdaptersTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("adapters"); }
  void TearDown() override { fs::remove_all(dir_); }

  // tally-camera on a NYC export; every plate's score against the computation.
  void score_nyc_export(const fs::path& csv) {
    const fs::path rules_path = source_dir() / "config/rules/camera-nyc.toml";
    const auto rules = read_rules(rules_path);
    int incomplete = 0;
    const auto rows = read_nyc(csv, incomplete);
    ASSERT_FALSE(rows.empty());
    for (const NycSummons& row : rows) {
      ASSERT_EQ(rules.count(row.type), 1u)
          << "camera-nyc.toml has no rule for " << row.type << " (summons " << row.summons << ")";
    }

    DaemonProcess daemon(rules_path, dir_ / "data", {"--workers", "2"});
    const fs::path rejects = dir_ / "rejects.ndjson";
    const auto sent = run_program({camera_path(), "--preset", "nyc-camera", "--submit",
                                   daemon.submit(), "--rejects", rejects.string(), "--progress",
                                   "off", "--batch", "100", csv.string()});
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
    EXPECT_NE(
        sent.output.find(fmt::format("tallyd accepted {}, duplicates 0, rejected 0", rows.size())),
        std::string::npos)
        << sent.output;
    EXPECT_NE(sent.output.find(fmt::format("rejected missing_field: {}", incomplete)),
              std::string::npos)
        << sent.output;
    EXPECT_EQ(count_lines_with(read_file(rejects), "\"reason\":\"missing_field\""),
              static_cast<std::size_t>(incomplete));

    // "Now" is the latest event time (clock = "event"); and a date in the middle.
    std::int64_t latest = 0;
    for (const NycSummons& row : rows) latest = std::max(latest, row.time_ms);
    const auto now = expected_scores(rows, rules, latest);
    const std::int64_t mid = nyc_time_ms("01/01/2020", "12:00A");
    const auto then = expected_scores(rows, rules, mid);
    std::int64_t positive = 0;
    for (const auto& [subject, score] : now) {
      EXPECT_EQ(score_of(daemon, subject), score) << subject;
      EXPECT_EQ(score_of(daemon, subject, "2020-01-01T00:00:00Z"), then.at(subject)) << subject;
      positive += score > 0;
    }
    EXPECT_GT(positive, 0) << "the check must see some points";
    // Each summons' own minute, and the minute before: an event counts from
    // its time on, so a time read an hour off (a 12 AM/PM or zone slip) shows.
    for (std::size_t i = 0; i < rows.size() && i < 60; ++i) {
      for (const std::int64_t at : {rows[i].time_ms, rows[i].time_ms - 60000}) {
        EXPECT_EQ(score_of(daemon, rows[i].subject, std::to_string(at)),
                  expected_scores(rows, rules, at).at(rows[i].subject))
            << rows[i].subject << " at " << at;
      }
    }

    // The hearings: NOT GUILTY revokes; every plate's score moves accordingly.
    std::set<std::string> not_guilty;
    for (const NycSummons& row : rows) {
      if (row.status == "HEARING HELD-NOT GUILTY") not_guilty.insert(row.summons);
    }
    ASSERT_FALSE(not_guilty.empty()) << "the sample holds hearing outcomes";
    const auto hearings =
        run_program({enforcement_path(), "--preset", "nyc-hearings", "--submit", daemon.submit(),
                     "--rejects", rejects.string(), "--progress", "off", csv.string()});
    ASSERT_EQ(hearings.exit_code, 0) << hearings.output;
    EXPECT_NE(hearings.output.find(fmt::format("(revokes {})", not_guilty.size())),
              std::string::npos)
        << hearings.output;
    const auto after = expected_scores(rows, rules, latest, not_guilty);
    for (const auto& [subject, score] : after)
      EXPECT_EQ(score_of(daemon, subject), score) << subject;

    // Sending the export again is safe: every event is a duplicate.
    const auto again =
        run_program({camera_path(), "--preset", "nyc-camera", "--submit", daemon.submit(),
                     "--rejects", rejects.string(), "--progress", "off", csv.string()});
    EXPECT_EQ(again.exit_code, 0) << again.output;
    EXPECT_NE(again.output.find(fmt::format("tallyd accepted 0, duplicates {}", rows.size())),
              std::string::npos)
        << again.output;
  }

  fs::path dir_;
};

TEST_F(AdaptersTest, NycExtractScoresMatchAnIndependentComputation) {
  score_nyc_export(source_dir() / "samples/nyc-camera-extract.csv");
}

TEST_F(AdaptersTest, SharedNycSampleScoresMatchAnIndependentComputation) {
  if (!fs::exists(shared_sample())) {
    GTEST_SKIP() << "no shared NYC sample at " << shared_sample()
                 << " (set TALLY_SHARED_DATA); the extract test covers the same path";
  }
  score_nyc_export(shared_sample());
}

TEST_F(AdaptersTest, EnforcementUpheldThenQuashedTakesThePointsBack) {
  const fs::path rules = source_dir() / "config/rules/demerit-ny.toml";
  DaemonProcess daemon(rules, dir_ / "data");
  const std::string mapping = (source_dir() / "config/mappings/backoffice-decisions.toml").string();
  const std::string header =
      "Case Number,Licence Number,Offence Code,Offence Date,Decision Date,Decision,Court,Fine\n";
  write_file(dir_ / "upheld.csv",
             header +
                 "TVB-2025-000104,987 654 321,1180-40,2025-01-30,2025-03-02,UPHELD,"
                 "\"Brooklyn TVB, Part 1\",450.00\n");
  write_file(dir_ / "quashed.csv",
             header +
                 "TVB-2025-000104,987 654 321,1180-40,2025-01-30,2025-06-15,QUASHED,"
                 "Appeals Board,\n");
  const auto run = [&](const fs::path& file) {
    return run_program({enforcement_path(), "--map", mapping, "--submit", daemon.submit(),
                        "--rejects", (dir_ / "rejects.ndjson").string(), "--progress", "off",
                        file.string()});
  };
  const auto upheld = run(dir_ / "upheld.csv");
  ASSERT_EQ(upheld.exit_code, 0) << upheld.output;
  const std::string subject = "person:NY:987654321";
  // speeding_31_40 is 8 points in demerit-ny.toml, counted from the offence date.
  EXPECT_EQ(score_of(daemon, subject, "2025-03-01T00:00:00Z"), 8);
  EXPECT_EQ(score_of(daemon, subject, "2025-01-29T00:00:00Z"), 0);

  const auto quashed = run(dir_ / "quashed.csv");
  ASSERT_EQ(quashed.exit_code, 0) << quashed.output;
  EXPECT_NE(quashed.output.find("(revokes 1)"), std::string::npos) << quashed.output;
  EXPECT_EQ(score_of(daemon, subject, "2025-03-01T00:00:00Z"), 0);
  simdjson::dom::parser parser;
  const std::string explain = daemon.ask(R"({"op":"explain","subject":"person:NY:987654321"})");
  EXPECT_NE(explain.find("\"revoked_by\":\"case:TVB-2025-000104:quashed\""), std::string::npos)
      << explain;

  // The whole shipped sample: three bad rows go to the rejects file, one
  // adjourned case is skipped, the rest is acknowledged.
  const auto sample = run(source_dir() / "samples/enforcement-decisions.csv");
  EXPECT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_NE(sample.output.find("events 8 (revokes 2), rejected 3, skipped 1"), std::string::npos)
      << sample.output;
  EXPECT_EQ(score_of(daemon, "person:NY:987654321", "2025-07-01T00:00:00Z"), 3);  // stop sign
  EXPECT_EQ(score_of(daemon, "person:NY:123456789", "2025-07-01T00:00:00Z"), 4 + 3);
  const auto strict =
      run_program({enforcement_path(), "--map", mapping, "--submit", daemon.submit(), "--rejects",
                   (dir_ / "r2.ndjson").string(), "--progress", "off", "--strict",
                   (source_dir() / "samples/enforcement-decisions.csv").string()});
  EXPECT_EQ(strict.exit_code, 3) << strict.output;
}

TEST_F(AdaptersTest, GzipDirectoriesAndPseudonyms) {
  const fs::path rules_path = source_dir() / "config/rules/camera-nyc.toml";
  const fs::path csv = source_dir() / "samples/nyc-camera-extract.csv";
  const std::string text = read_file(csv);
  fs::create_directories(dir_ / "in" / ".hidden");
  gzFile gz = ::gzopen((dir_ / "in" / "extract.csv.gz").c_str(), "wb");
  ASSERT_EQ(::gzwrite(gz, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ::gzclose(gz);
  write_file(dir_ / "in" / ".hidden" / "ignored.csv", "not,a,nyc,file\n1,2,3,4\n");
  write_file(dir_ / "key", std::string(64, '7') + "\n");

  int incomplete = 0;
  const auto rows = read_nyc(csv, incomplete);
  const auto rules = read_rules(rules_path);
  std::int64_t latest = 0;
  for (const NycSummons& row : rows) latest = std::max(latest, row.time_ms);
  const auto expected = expected_scores(rows, rules, latest);

  DaemonProcess daemon(rules_path, dir_ / "data");
  const auto sent = run_program({camera_path(), "--preset", "nyc-camera", "--submit",
                                 daemon.submit(), "--pseudonymise", (dir_ / "key").string(),
                                 "--rejects", (dir_ / "rejects.ndjson").string(), "--progress",
                                 "off", (dir_ / "in").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find(fmt::format("tallyd accepted {}", rows.size())), std::string::npos)
      << sent.output;

  // tallyd holds pseudonyms only; the same key gives the same one (the dry
  // run prints it), and its score is the plate's.
  const auto top = daemon.ask(R"({"op":"top","n":10000,"order":"highest"})");
  EXPECT_EQ(top.find(rows.front().subject), std::string::npos) << top;
  const auto dry = run_program({camera_path(), "--preset", "nyc-camera", "--dry-run",
                                "--pseudonymise", (dir_ / "key").string(), "--rejects",
                                (dir_ / "dry-rejects.ndjson").string(), csv.string()});
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  std::map<std::string, std::string> pseudonym_of;  // plate -> pseudonym, via the summons id
  std::map<std::string, std::string> subject_of_summons;
  for (const NycSummons& row : rows) subject_of_summons["nyc:" + row.summons] = row.subject;
  simdjson::dom::parser parser;
  std::istringstream lines(dry.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    simdjson::dom::element event = parse_json(parser, line);
    pseudonym_of[subject_of_summons.at(std::string(event["id"].get_string().value()))] =
        std::string(event["subject"].get_string().value());
  }
  ASSERT_EQ(pseudonym_of.size(), expected.size());
  for (const auto& [plate, score] : expected) {
    EXPECT_EQ(pseudonym_of.at(plate).rfind("plate:k", 0), 0u);
    EXPECT_EQ(score_of(daemon, pseudonym_of.at(plate)), score) << plate;
  }
}

// Waits until `file` holds `text`, at most `timeout`.
bool file_comes_to_hold(const fs::path& file, const std::string& text,
                        std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_file(file).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The columns of the NYC export that the nyc-camera preset needs.
constexpr const char* kCameraCsvHeader =
    "Plate,State,License Type,Summons Number,Issue Date,Violation Time,Violation\r\n";

// A red light on 1 March 2021, plate LIVE<n mod 3>.
std::string live_row(int n, const char* time) {
  return fmt::format("LIVE{},NY,PAS,{},03/01/2021,{},FAILURE TO STOP AT RED LIGHT\r\n", n % 3,
                     9000000000 + n, time);
}

TEST_F(AdaptersTest, FollowsALiveFileAcrossRotationUntilSigterm) {
  const fs::path rules_path = source_dir() / "config/rules/camera-nyc.toml";
  DaemonProcess daemon(rules_path, dir_ / "data");
  const fs::path live = dir_ / "live.csv";
  write_file(live, kCameraCsvHeader + live_row(1, "08:00A"));
  ChildProcess follower({camera_path(), "--preset", "nyc-camera", "--follow", "--submit",
                         daemon.submit(), "--rejects", (dir_ / "rejects.ndjson").string(),
                         "--max-delay", "0.05", "--progress", "off", live.string()});
  daemon.wait_for_processed(1);
  {
    std::ofstream append(live, std::ios::app | std::ios::binary);
    append << live_row(2, "08:01A") << live_row(3, "08:02A");
  }
  daemon.wait_for_processed(3);
  // Rotation: the new file starts with the header again (not a record).
  fs::rename(live, dir_ / "live.csv.1");
  write_file(live, kCameraCsvHeader + live_row(4, "08:03A") + live_row(5, "13:04X"));
  daemon.wait_for_processed(4);
  follower.send_signal(SIGTERM);
  const int exit_code = follower.wait(std::chrono::seconds(60)).value_or(-1);
  ASSERT_TRUE(follower.wait_for_output_end(std::chrono::seconds(10)));
  const std::string log = follower.output();
  EXPECT_EQ(exit_code, 0) << log;
  EXPECT_NE(log.find("tallyd accepted 4, duplicates 0, rejected 0"), std::string::npos) << log;
  EXPECT_NE(log.find("rejected bad_time: 1"), std::string::npos) << log;
  EXPECT_EQ(score_of(daemon, "plate:NY:LIVE1"), 3 + 3);  // rows 1 and 4: red light, 3 points
}

// The bug this guards against: SIGTERM arriving while the adapter waited in
// zmq_poll for an answer made cppzmq throw (EINTR), and tally-camera exited 2
// with "cannot connect: Interrupted system call", no summary, rejects not
// written. Here the answer cannot come (tallyd is stopped), so the adapter is
// certainly waiting for it when the signal arrives; it must stop as
// documented: the summary, the rejects file, and exit 1 (a batch was never
// acknowledged; running again is safe).
TEST_F(AdaptersTest, SigtermWithABatchInFlightToAStoppedTallydEndsCleanly) {
  DaemonProcess daemon(source_dir() / "config/rules/camera-nyc.toml", dir_ / "data");
  const fs::path live = dir_ / "live.csv", rejects = dir_ / "rejects.ndjson";
  write_file(live, kCameraCsvHeader + live_row(1, "08:00A"));
  ChildProcess follower({camera_path(), "--preset", "nyc-camera", "--follow", "--submit",
                         daemon.submit(), "--rejects", rejects.string(), "--max-delay", "0.05",
                         "--ack-timeout", "1", "--attempts", "3", "--progress", "log",
                         "--progress-interval", "0.05", live.string()});
  const auto progress_says = [&](std::string_view counts) {
    return follower
        .wait_for_line([&](std::string_view line) { return line.ends_with(counts); },
                       std::chrono::seconds(30))
        .has_value();
  };
  // The progress lines say what was sent and what was acknowledged.
  ASSERT_TRUE(progress_says("  sent 1  acknowledged 1")) << follower.output();

  ASSERT_EQ(::kill(daemon.pid(), SIGSTOP), 0);
  struct Continue {
    pid_t pid;
    ~Continue() { ::kill(pid, SIGCONT); }
  } continue_daemon{daemon.pid()};
  {
    std::ofstream append(live, std::ios::app | std::ios::binary);
    append << live_row(2, "08:01A") << live_row(3, "08:02A") << live_row(4, "13:04X");
  }
  // Rows 2 and 3 are on the wire, unanswered; row 4 is in the rejects file.
  ASSERT_TRUE(progress_says("  sent 3  acknowledged 1")) << follower.output();
  ASSERT_TRUE(file_comes_to_hold(rejects, R"("line":5,"stage":"adapter","reason":"bad_time")"))
      << read_file(rejects);

  follower.send_signal(SIGTERM);
  // It waits for the answer at most --attempts x --ack-timeout, then stops.
  const int exit_code = follower.wait(std::chrono::seconds(60)).value_or(-1);
  ASSERT_TRUE(follower.wait_for_output_end(std::chrono::seconds(10)));
  const std::string output = follower.output();
  EXPECT_EQ(exit_code, 1) << output;
  EXPECT_EQ(output.find("Interrupted system call"), std::string::npos) << output;
  EXPECT_NE(output.find("read 4 records from 1 input"), std::string::npos) << output;
  EXPECT_NE(output.find("events 3 (revokes 0), rejected 1, skipped 0"), std::string::npos)
      << output;
  EXPECT_NE(output.find("sent 3 events in 2 batches"), std::string::npos) << output;
  EXPECT_NE(output.find("tallyd accepted 1, duplicates 0, rejected 0, resends 2"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("1 batches (2 events) were never acknowledged; running again is safe"),
            std::string::npos)
      << output;
  EXPECT_EQ(count_lines_with(read_file(rejects), "\"reason\":\"bad_time\""), 1u);

  // Running again once tallyd goes on is safe: everything ends up counted once.
  ::kill(daemon.pid(), SIGCONT);
  const auto again = run_program({camera_path(), "--preset", "nyc-camera", "--submit",
                                  daemon.submit(), "--rejects", (dir_ / "again.ndjson").string(),
                                  "--progress", "off", live.string()});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  for (const char* plate : {"plate:NY:LIVE0", "plate:NY:LIVE1", "plate:NY:LIVE2"}) {
    EXPECT_EQ(score_of(daemon, plate), 3) << plate;  // one red light each
  }
}

TEST_F(AdaptersTest, ReplaySpeedSendsInEventTimeOrder) {
  DaemonProcess daemon(source_dir() / "config/rules/camera-nyc.toml", dir_ / "data");
  const std::string header = kCameraCsvHeader;
  // Out of order in the file, 60 s apart in event time; at 300x: ~0.2 s each gap.
  write_file(dir_ / "r.csv", header +
                                 "B,NY,PAS,2,03/01/2021,08:02A,FIRE HYDRANT\r\n"
                                 "A,NY,PAS,1,03/01/2021,08:01A,FIRE HYDRANT\r\n"
                                 "C,NY,PAS,3,03/01/2021,08:03A,FIRE HYDRANT\r\n");
  const auto start = std::chrono::steady_clock::now();
  const auto dry = run_program({camera_path(), "--preset", "nyc-camera", "--dry-run",
                                "--replay-speed", "300", (dir_ / "r.csv").string()});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  const auto a = dry.output.find("nyc:1\""), b = dry.output.find("nyc:2\""),
             c = dry.output.find("nyc:3\"");
  ASSERT_NE(c, std::string::npos) << dry.output;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_GE(seconds, 0.35) << "two 60 s gaps at 300x are 0.4 s";
  const auto sent = run_program({camera_path(), "--preset", "nyc-camera", "--submit",
                                 daemon.submit(), "--replay-speed", "1000", "--rejects",
                                 (dir_ / "rejects.ndjson").string(), (dir_ / "r.csv").string()});
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find("tallyd accepted 3"), std::string::npos) << sent.output;
}

TEST_F(AdaptersTest, TallydRejectsAreTracedBackToTheirInputLines) {
  DaemonProcess daemon(source_dir() / "config/rules/camera-nyc.toml", dir_ / "data");
  const std::string header = kCameraCsvHeader;
  // A type camera-nyc.toml has no rule for: the adapter maps it, tallyd refuses it.
  write_file(dir_ / "a.csv", header +
                                 "A,NY,PAS,11,03/01/2021,08:01A,FIRE HYDRANT\r\n"
                                 "B,NY,PAS,12,02/30/2021,08:01A,FIRE HYDRANT\r\n"
                                 "C,NY,PAS,13,03/01/2021,08:01A,JAYWALKING\r\n");
  write_file(dir_ / "b.csv", header +
                                 "D,NY,PAS,14,03/01/2021,08:01A,JAYWALKING\r\n"
                                 "E,NY,PAS,15,03/01/2021,08:01A,FIRE HYDRANT\r\n");
  const fs::path rejects = dir_ / "rejects.ndjson";
  const auto sent = run_program({camera_path(), "--preset", "nyc-camera", "--submit",
                                 daemon.submit(), "--rejects", rejects.string(), "--progress",
                                 "off", (dir_ / "a.csv").string(), (dir_ / "b.csv").string()});
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find("tallyd accepted 2, duplicates 0, rejected 2"), std::string::npos)
      << sent.output;
  const std::string written = read_file(rejects);
  const auto a = (dir_ / "a.csv").string(), b = (dir_ / "b.csv").string();
  EXPECT_NE(
      written.find(R"({"input":")" + a + R"(","line":3,"stage":"adapter","reason":"bad_time")"),
      std::string::npos)
      << written;
  EXPECT_NE(
      written.find(R"({"input":")" + a + R"(","line":4,"stage":"tallyd","reason":"unknown_type"})"),
      std::string::npos)
      << written;
  EXPECT_NE(
      written.find(R"({"input":")" + b + R"(","line":2,"stage":"tallyd","reason":"unknown_type"})"),
      std::string::npos)
      << written;
  const auto strict =
      run_program({camera_path(), "--preset", "nyc-camera", "--submit", daemon.submit(),
                   "--rejects", rejects.string(), "--strict", (dir_ / "b.csv").string()});
  EXPECT_EQ(strict.exit_code, 3) << strict.output;
}

TEST_F(AdaptersTest, CommandLineErrorsAreClearAndExitTwo) {
  const std::string sample = (source_dir() / "samples/nyc-camera-extract.csv").string();
  const auto no_mapping = run_program({camera_path(), sample});
  EXPECT_EQ(no_mapping.exit_code, 2) << no_mapping.output;
  EXPECT_NE(no_mapping.output.find("--preset (nyc-camera, anpr-json) or --map FILE"),
            std::string::npos)
      << no_mapping.output;

  const auto zone = run_program(
      {camera_path(), "--preset", "nyc-camera", "--tz", "Mars/Olympus", "--dry-run", sample});
  EXPECT_EQ(zone.exit_code, 2);
  EXPECT_NE(zone.output.find("unknown time zone \"Mars/Olympus\""), std::string::npos)
      << zone.output;

  const auto wrong_program =
      run_program({camera_path(), "--map",
                   (source_dir() / "config/mappings/backoffice-decisions.toml").string(), sample});
  EXPECT_EQ(wrong_program.exit_code, 2);
  EXPECT_NE(wrong_program.output.find("use tally-enforcement"), std::string::npos)
      << wrong_program.output;

  const auto missing = run_program(
      {camera_path(), "--preset", "nyc-camera", "--dry-run", (dir_ / "absent.csv").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("absent.csv"), std::string::npos) << missing.output;

  const auto no_daemon =
      run_program({camera_path(), "--preset", "nyc-camera", "--submit", "tcp://127.0.0.1:1",
                   "--timeout", "0.5", "--rejects", (dir_ / "rejects.ndjson").string(), sample});
  EXPECT_EQ(no_daemon.exit_code, 2) << no_daemon.output;
  EXPECT_NE(no_daemon.output.find("is tallyd running?"), std::string::npos) << no_daemon.output;

  const auto help = run_program({camera_path(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("Exit codes:"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--pseudonymise"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace tally::testing
