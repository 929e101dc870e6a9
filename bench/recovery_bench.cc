// tally-recovery-bench: how long a snapshot takes to write and how long a
// start takes to recover, at a city's scale.
//
//   snapshot: fills the workers with --subjects subjects (--per-subject
//             contributions each), takes a snapshot (timed: total, and the
//             longest a worker paused), then recovers it into a new engine.
//   journal:  writes --journal-events events straight into journal files (as
//             the workers would have), then recovers them into a new engine.
//
// Figures go to stdout, one line each, as the README quotes them.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <random>

#include "scorer/engine.h"
#include "scorer/shard_persistence.h"
#include "storage/env.h"
#include "storage/journal_writer.h"

namespace {

namespace fs = std::filesystem;
using tally::scorer::Engine;

constexpr const char* kRules = R"(
[rules.speeding]
points = 3
expires_after = "540d"
[rules.red_light]
points = 3
expires_after = "540d"
[rules.phone_use]
points = 5
expires_after = "540d"
)";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<Engine> make_engine(const fs::path& rules, const fs::path& data,
                                    std::uint32_t workers) {
  tally::scorer::ScorerOptions options;
  options.workers = workers;
  options.rules_path = rules.string();
  options.worker.journal.enabled = true;
  options.worker.journal.dir = data.string();
  options.worker.journal.fsync = tally::storage::FsyncMode::kNone;
  auto loaded = tally::scorer::load_rules_file(rules.string(), 1);
  return std::make_unique<Engine>(options, *loaded);
}

// The i-th synthetic event: subject i % subjects, a type by turn, a time
// within the last year.
tally::Event event_of(const tally::scorer::RuleSet& rules, std::uint64_t i,
                      std::uint64_t subjects) {
  static constexpr const char* kTypes[] = {"speeding", "red_light", "phone_use"};
  tally::Event event;
  event.id.assign(fmt::format("ev-{:012}", i));
  event.subject.assign(fmt::format("person:{:09}", i % subjects));
  event.source.assign(fmt::format("camera-{}", i % 97));
  event.type = rules.resolve(kTypes[i % 3]);
  event.time_ms = 1'750'000'000'000 + static_cast<std::int64_t>((i * 7919) % 31'536'000) * 1000;
  event.subject_hash = tally::stable_hash64(event.subject.view());
  return event;
}

// Prints the figures; false (with the reason on stderr) when recovery failed.
bool report_recovery(const char* what,
                     const tally::Result<tally::storage::RecoveryReport>& recovered,
                     std::uint32_t workers) {
  if (!recovered.is_ok()) {
    fmt::print(stderr, "recovery failed: {}\n", recovered.status().to_string());
    return false;
  }
  const tally::storage::RecoveryReport& report = *recovered;
  const std::uint64_t records = report.snapshot_records + report.journal_records;
  fmt::print(
      "recover-{:<9} {:>11} records  {:>8.1f} MB  {} workers  {:6.2f} s  {:5.2f} M records/s\n",
      what, records, static_cast<double>(report.bytes) / 1e6, workers, report.seconds,
      static_cast<double>(records) / report.seconds / 1e6);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tally-recovery-bench - snapshot and recovery times at a city's scale.\n\n"
      "Example:\n"
      "  tally-recovery-bench --subjects 2500000 --journal-events 10000000 --dir /var/tmp/tb\n",
      "tally-recovery-bench"};
  std::uint64_t subjects = 2'500'000, per_subject = 2, journal_events = 10'000'000;
  std::uint32_t workers = 2;
  std::string dir = (fs::temp_directory_path() / "tally-recovery-bench").string();
  std::string only;
  app.add_option("--subjects", subjects, "Subjects in the snapshot run (Yiwu: 2.5 million)");
  app.add_option("--per-subject", per_subject, "Contributions per subject in the snapshot run");
  app.add_option("--journal-events", journal_events, "Events in the journal run");
  app.add_option("--workers", workers, "Workers of the engine that recovers")
      ->check(CLI::Range(1, 64));
  app.add_option("--dir", dir, "Scratch directory (emptied; needs about 100 bytes per record)");
  app.add_option("--only", only, "Run one part: snapshot or journal")
      ->check(CLI::IsMember({"snapshot", "journal"}));
  CLI11_PARSE(app, argc, argv);

  const fs::path root(dir);
  fs::remove_all(root);
  fs::create_directories(root);
  const fs::path rules = root / "rules.toml";
  {
    std::FILE* file = std::fopen(rules.c_str(), "w");
    std::fputs(kRules, file);
    std::fclose(file);
  }

  if (only.empty() || only == "snapshot") {
    const fs::path data = root / "snapshot";
    fs::create_directories(data);
    auto engine = make_engine(rules, data, workers);
    const std::uint64_t events = subjects * per_subject;
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < events; ++i) {
      engine->apply_directly(event_of(engine->rules(), i, subjects));
    }
    fmt::print("fill              {:>11} events   {} subjects  {:6.2f} s\n", events, subjects,
               seconds_since(start));
    engine->start();
    // An empty directory: this only opens the journals.
    if (const auto opened = engine->recover(); !opened.is_ok()) {
      fmt::print(stderr, "cannot start the journals: {}\n", opened.status().to_string());
      return 1;
    }
    const tally::scorer::SnapshotReport snapshot = engine->snapshot();
    if (!snapshot.ok) {
      fmt::print(stderr, "snapshot failed: {}\n", snapshot.error);
      return 1;
    }
    fmt::print(
        "snapshot          {:>11} records  {:>8.1f} MB  {} workers  {:6.2f} s  longest "
        "worker pause {:.2f} s\n",
        snapshot.records, static_cast<double>(snapshot.bytes) / 1e6, workers, snapshot.seconds,
        snapshot.longest_pause_seconds);
    engine->stop();
    engine.reset();
    ::sync();
    auto recovered = make_engine(rules, data, workers);
    recovered->start();
    if (!report_recovery("snapshot", recovered->recover(), workers)) return 1;
    recovered->stop();
  }

  if (only.empty() || only == "journal") {
    const fs::path data = root / "journal";
    fs::create_directories(data);
    auto loaded = tally::scorer::load_rules_file(rules.string(), 1);
    const auto& rule_set = **loaded;
    tally::storage::JournalOptions options;
    options.enabled = true;
    options.dir = data.string();
    options.fsync = tally::storage::FsyncMode::kNone;
    // Written as two workers would have; recovered by --workers.
    std::vector<std::unique_ptr<tally::storage::JournalWriter>> writers;
    for (std::uint32_t w = 0; w < 2; ++w) {
      writers.push_back(std::make_unique<tally::storage::JournalWriter>(
          tally::storage::Env::posix(), options, w));
      if (const tally::Status started = writers.back()->start_generation(1); !started.is_ok()) {
        fmt::print(stderr, "cannot write in {}: {}\n", data.string(), started.to_string());
        return 1;
      }
    }
    auto start = std::chrono::steady_clock::now();
    const std::uint64_t journal_subjects = std::max<std::uint64_t>(1, journal_events / 4);
    const tally::scorer::InternTable interns;
    for (std::uint64_t i = 0; i < journal_events; ++i) {
      auto& writer = *writers[i % 2];
      writer.append(tally::scorer::record_of(event_of(rule_set, i, journal_subjects), interns));
      if (writer.pending_bytes() > (4u << 20)) (void)writer.flush(false, 0);
    }
    for (auto& writer : writers) (void)writer->finish();
    writers.clear();
    fmt::print("journal-write     {:>11} events  {:6.2f} s\n", journal_events,
               seconds_since(start));
    ::sync();
    auto recovered = make_engine(rules, data, workers);
    recovered->start();
    if (!report_recovery("journal", recovered->recover(), workers)) return 1;
    recovered->stop();
  }
  fs::remove_all(root);
  return 0;
}
