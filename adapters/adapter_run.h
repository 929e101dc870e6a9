// One run of a source adapter (tally-camera, tally-enforcement): inputs ->
// records -> a Mapping -> canonical NDJSON events -> a Publisher (or a
// cluster's stream through a JetStreamPublisher, or stdout for --dry-run),
// with a rejects file (rejects_file.h), progress
// (progress_meter.h), and a summary whose exit code says whether everything
// sent was acknowledged.
//
// Nothing is lost without trace: every record read is sent, or rejected (the
// rejects file gets its input, line, reason, detail and raw text), or skipped
// for a reason the mapping names (counted). Events tallyd refuses are written
// to the rejects file too, traced back to their input and line (over
// ZeroMQ; into the stream, no node answers, and each node dead-letters them).
//
// The steps of run(): open every input (a typo fails before anything is
// sent); read each input's records, mapping and emitting each (or holding
// them for --replay-speed, then sending in event-time order); finish
// publishing (every answer awaited, tallyd's rejects traced back); print the
// summary; the exit code.
//
// Stopping: `stop` is read between records and while waiting for input or
// answers (at least every 100 ms). Once set, reading ends, what was read is
// sent, answers are awaited (each batch at most --attempts x --ack-timeout),
// the summary is printed, and the exit code says whether everything sent was
// acknowledged (1 if not: a stopped tallyd costs a rerun, which is safe).
//
// Thread-safety: one run per thread; `stop` may be set from any thread (a
// SignalWatcher's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "adapters/byte_source.h"
#include "adapters/event_origins.h"
#include "adapters/mapping.h"
#include "adapters/progress_meter.h"
#include "adapters/record_reader.h"
#include "adapters/rejects_file.h"
#include "client/jetstream_publisher.h"
#include "client/publisher.h"
#include "core/status.h"

namespace tally::adapters {

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
  client::PublisherOptions publisher;
  // With urls: publish into the replicated log (a cluster's JetStream
  // stream, docs/cluster.md) instead of tallyd's ZeroMQ ingest; a batch is
  // sent once the stream acknowledged it (PubAck), and tallyd's verdict on
  // each event is in the nodes' counters and dead-letter files.
  client::JetStreamPublisherOptions jetstream;
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
  client::PublishSummary published;        // empty for a dry run and with JetStream
  client::JetStreamPublishSummary logged;  // with JetStream: what the stream acknowledged
  std::string failure;                     // why the run stopped early; empty if it did not
  std::uint64_t rejected_total() const;
  std::uint64_t skipped_total() const;
};

class AdapterRun {
 public:
  // `mapping` must outlive the run. `stop` (may be null) ends it early.
  AdapterRun(AdapterOptions options, Mapping& mapping, const std::atomic<bool>* stop = nullptr);
  ~AdapterRun();
  // Runs to the end; prints the summary on stderr; returns the exit code.
  // Call once.
  int run();
  const AdapterSummary& summary() const noexcept { return summary_; }

 private:
  // An event held back for --replay-speed.
  struct HeldEvent {
    std::int64_t time_ms;
    EventOrigins::Origin origin;
    std::string ndjson;
  };

  Status open_inputs();
  // One input's records; false when sending must stop (a read error, the
  // publisher failed).
  bool read_input(std::uint32_t index);
  // One record (or one the reader could not read); false if the publisher failed.
  bool handle_record(std::uint32_t index, const RecordReader& reader, bool unreadable);
  bool emit(std::string_view ndjson, const EventOrigins::Origin& origin);
  // Nothing to read now: flush what waits, take answers; false if the publisher failed.
  bool idle(std::chrono::milliseconds wait);
  void replay_held();
  void finish_output();
  void print_summary() const;
  int exit_code() const;

  bool stopped() const noexcept {
    return stop_ != nullptr && stop_->load(std::memory_order_relaxed);
  }
  std::string_view input_name(std::uint32_t index) const;
  // For the progress meter: `done` of `total` (bytes, or held events in a replay).
  ProgressCounts counts(std::uint64_t records, std::uint64_t done, std::uint64_t total) const;
  int fail(std::string_view why) const;
  void flush_stdout();

  AdapterOptions options_;
  Mapping& mapping_;
  const std::atomic<bool>* stop_;
  AdapterSummary summary_;

  std::vector<std::string> inputs_;  // directories expanded
  std::vector<std::unique_ptr<ByteSource>> sources_;
  std::unique_ptr<zmq::context_t> context_;  // not for a dry run; outlives the publisher
  std::optional<client::Publisher> publisher_;
  std::unique_ptr<client::JetStreamPublisher> log_publisher_;  // with options_.jetstream.urls
  EventOrigins origins_;
  RejectsFile rejects_;
  ProgressMeter progress_;
  std::vector<HeldEvent> held_;
  std::string event_;                  // the event being mapped
  std::string stdout_buffer_;          // a dry run's events, written in large pieces
  std::uint64_t consumed_before_ = 0;  // bytes of the inputs already read
  std::uint64_t total_bytes_ = 0;
};

}  // namespace tally::adapters
