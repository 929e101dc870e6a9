// One run of a source adapter (tally-camera, tally-enforcement): inputs ->
// records -> a Mapping -> canonical NDJSON events -> a Publisher (or stdout
// for --dry-run), with a rejects file, progress, and a summary whose exit code
// says whether everything sent was acknowledged.
//
// Nothing is lost without trace: every record read is sent, or rejected (the
// rejects file gets its input, line, reason, detail and raw text), or skipped
// for a reason the mapping names (counted). Events tallyd refuses are written
// to the rejects file too, traced back to their input and line.
//
// Rejects file (NDJSON, one object a line, appended):
//   {"input":"a.csv","line":12,"stage":"adapter","reason":"bad_time",
//    "detail":"\"11/31/2020 02:45P\": 2020-11-31 is not a date","record":"<raw text>"}
//   {"input":"a.csv","line":40,"stage":"tallyd","reason":"unknown_type"}
// (`line` is the record's first physical line, or for an element of a JSON
// array `"element":N`.)
//
// Thread-safety: one run per thread; `stop` may be set from a signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "adapters/mapping.h"
#include "adapters/publisher.h"

namespace tally::adapters {

enum class ProgressMode {
  kAuto,  // a bar when stderr is a terminal, else log lines
  kBar,   // a bar redrawn in place on stderr
  kLog,   // a line on stderr every progress_interval
  kOff,
};

struct AdapterOptions {
  // Program name, for messages and the default rejects file.
  std::string program = "tally-adapter";
  // Files, directories (every regular file inside, recursively, in name
  // order, hidden ones skipped) and "-" for stdin. gzip is detected and read.
  std::vector<std::string> inputs;
  // Follow the one input file as it grows, like tail -F, until `stop`.
  bool follow = false;
  // > 0: read everything first, then send in event-time order, pacing the
  // gaps between event times divided by this (2 = twice real speed).
  double replay_speed = 0;
  // Print the events as NDJSON on stdout instead of sending them.
  bool dry_run = false;
  // Where rejected records go (appended). Default "<program>-rejects.ndjson".
  std::string rejects_path;
  // How publishing is done (acknowledged is forced on: adapters account for
  // every event).
  PublisherOptions publisher;
  ProgressMode progress = ProgressMode::kAuto;
  std::chrono::milliseconds progress_interval{10000};
  // Exit 3 when any record was rejected (by the mapping or by tallyd).
  bool strict = false;
};

// Exit codes of a run (and of the adapter programs).
inline constexpr int kExitComplete = 0;        // everything sent was acknowledged
inline constexpr int kExitUnacknowledged = 1;  // some batch never was; rerunning is safe
inline constexpr int kExitFailure = 2;         // bad input, mapping, usage or no connection
inline constexpr int kExitRejected = 3;        // --strict: some record was rejected

struct AdapterSummary {
  std::uint64_t records = 0;  // read (events + rejected + skipped)
  std::uint64_t events = 0;   // mapped (revokes among them)
  std::uint64_t revokes = 0;
  std::map<std::string, std::uint64_t, std::less<>> rejected;  // by reason, adapter stage
  std::map<std::string, std::uint64_t, std::less<>> skipped;   // by reason
  std::uint64_t inputs = 0;
  double seconds = 0;
  PublishSummary published;  // empty for a dry run
  std::string failure;       // why the run stopped early; empty if it did not
  std::uint64_t rejected_total() const;
  std::uint64_t skipped_total() const;
};

class AdapterRun {
 public:
  // `mapping` must outlive the run. `stop` (may be null) ends a --follow.
  AdapterRun(AdapterOptions options, Mapping& mapping, const std::atomic<bool>* stop = nullptr);
  // Runs to the end; prints the summary on stderr; returns the exit code.
  int run();
  const AdapterSummary& summary() const noexcept { return summary_; }

 private:
  struct Impl;
  AdapterOptions options_;
  Mapping& mapping_;
  const std::atomic<bool>* stop_;
  AdapterSummary summary_;
};

}  // namespace tally::adapters
