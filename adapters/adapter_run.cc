#include "adapters/adapter_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace tally::adapters {

using Clock = std::chrono::steady_clock;

std::uint64_t AdapterSummary::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : rejected) total += count;
  return total;
}

std::uint64_t AdapterSummary::skipped_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : skipped) total += count;
  return total;
}

namespace {

// How long a run waits, at most, before it looks at its stop flag again.
constexpr std::chrono::milliseconds kIdleWait{100};
// A dry run writes its events to stdout in pieces of about this size.
constexpr std::size_t kStdoutChunk = 1 << 16;

AdapterOptions with_defaults(AdapterOptions options) {
  if (options.rejects_path.empty()) options.rejects_path = options.program + "-rejects.ndjson";
  options.publisher.acknowledged = true;
  return options;
}

// Expands directories into their regular files, in name order.
Status expand_inputs(const std::vector<std::string>& given, std::vector<std::string>& out) {
  namespace fs = std::filesystem;
  for (const std::string& input : given) {
    std::error_code code;
    if (input == "-" || !fs::is_directory(input, code)) {
      out.push_back(input);
      continue;
    }
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(input, code);
         !code && it != fs::recursive_directory_iterator(); it.increment(code)) {
      const std::string name = it->path().filename().string();
      if (name.starts_with(".")) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    if (code) return Status::io_error(fmt::format("cannot list {}", input), code.value());
    if (files.empty()) return Status::invalid_argument(fmt::format("{} holds no files", input));
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return Status::ok();
}

}  // namespace

AdapterRun::AdapterRun(AdapterOptions options, Mapping& mapping, const std::atomic<bool>* stop)
    : options_(with_defaults(std::move(options))),
      mapping_(mapping),
      stop_(stop),
      rejects_(options_.rejects_path),
      progress_(options_.program, options_.progress, options_.progress_interval) {}

AdapterRun::~AdapterRun() = default;

int AdapterRun::run() {
  const auto started = Clock::now();
  if (Status opened = open_inputs(); !opened) return fail(opened.message());
  if (!options_.dry_run && !options_.jetstream.urls.empty()) {
    auto opened = client::JetStreamPublisher::open(options_.jetstream);
    if (!opened) return fail(opened.status().to_string());
    log_publisher_ = std::move(opened).value();
  } else if (!options_.dry_run) {
    context_ = std::make_unique<zmq::context_t>(1);
    publisher_.emplace(*context_, options_.publisher);
  }
  bool sending = true;
  for (std::uint32_t i = 0; i < sources_.size() && sending && !stopped(); ++i) {
    sending = read_input(i);
  }
  if (sending && summary_.failure.empty()) replay_held();
  finish_output();
  rejects_.flush();
  summary_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  progress_.show(counts(summary_.records, consumed_before_, total_bytes_), true);
  progress_.clear();
  print_summary();
  return exit_code();
}

Status AdapterRun::open_inputs() {
  if (Status expanded = expand_inputs(options_.inputs, inputs_); !expanded) return expanded;
  if (inputs_.empty()) {
    return Status::invalid_argument("no input (give files, directories, or - for stdin)");
  }
  if (options_.follow && (inputs_.size() != 1 || inputs_[0] == "-")) {
    return Status::invalid_argument("--follow takes exactly one file (not a directory or -)");
  }
  if (options_.follow && options_.replay_speed > 0) {
    return Status::invalid_argument(
        "--follow and --replay-speed do not go together (a replay reads to the end first)");
  }
  // Every input is opened before anything is sent: a typo fails fast.
  for (const std::string& input : inputs_) {
    if (options_.follow) {
      sources_.push_back(follow_input(input));
      continue;
    }
    Result<std::unique_ptr<ByteSource>> source = open_input(input);
    if (!source) return source.status();
    sources_.push_back(std::move(*source));
  }
  for (const auto& source : sources_) total_bytes_ += source->total();
  summary_.inputs = inputs_.size();
  return Status::ok();
}

bool AdapterRun::read_input(std::uint32_t index) {
  ByteSource& source = *sources_[index];
  RecordReader reader(source, mapping_.format(), mapping_.delimiter());
  bool sending = true;
  for (;;) {
    const RecordReader::Next next = reader.next();
    if (next == RecordReader::Next::kEnd) break;
    if (next == RecordReader::Next::kError) {
      summary_.failure = fmt::format("{}: {}", input_name(index), reader.error());
      sending = false;
      break;
    }
    if (next == RecordReader::Next::kIdle) {
      if (stopped()) break;
      progress_.show(counts(summary_.records, 0, 0), false);
      if (!idle(kIdleWait)) {
        sending = false;
        break;
      }
      continue;
    }
    if (!handle_record(index, reader, next == RecordReader::Next::kRejected)) {
      sending = false;
      break;
    }
    progress_.update(counts(summary_.records, consumed_before_ + source.consumed(), total_bytes_));
    if (stopped()) break;
  }
  consumed_before_ += source.consumed();
  return sending;
}

bool AdapterRun::handle_record(std::uint32_t index, const RecordReader& reader, bool unreadable) {
  ++summary_.records;
  // A dry run that does not replay maps each event straight into the stdout
  // buffer: one copy less per event (a mapping leaves `out` as it was when the
  // record is not an event).
  const bool straight_to_stdout = options_.dry_run && options_.replay_speed <= 0;
  MapResult result;
  if (unreadable) {
    result.issue = reader.issue();
    result.detail = reader.detail();
  } else if (straight_to_stdout) {
    result = mapping_.map(reader.record(), stdout_buffer_);
  } else {
    event_.clear();
    result = mapping_.map(reader.record(), event_);
  }
  const EventOrigins::Origin origin{index, reader.line(), reader.in_array()};
  if (result.issue == RecordIssue::kNone) {
    ++summary_.events;
    if (result.revoke) ++summary_.revokes;
    if (straight_to_stdout) {
      stdout_buffer_.push_back('\n');
      if (stdout_buffer_.size() >= kStdoutChunk) flush_stdout();
      return true;
    }
    if (options_.replay_speed > 0) {
      held_.push_back({result.time_ms, origin, event_});
      return true;
    }
    return emit(event_, origin);
  }
  const std::string_view reason = record_issue_name(result.issue);
  if (is_skip(result.issue)) {
    ++summary_.skipped[std::string(reason)];
    return true;
  }
  ++summary_.rejected[std::string(reason)];
  rejects_.write({input_name(index), reader.line(), reader.in_array(), "adapter", reason,
                  result.detail, reader.raw()});
  return true;
}

bool AdapterRun::emit(std::string_view ndjson, const EventOrigins::Origin& origin) {
  if (options_.dry_run) {
    stdout_buffer_.append(ndjson);
    stdout_buffer_.push_back('\n');
    if (stdout_buffer_.size() >= kStdoutChunk) flush_stdout();
    return true;
  }
  if (log_publisher_) return log_publisher_->add(ndjson);
  origins_.note(origin);
  return publisher_->add(ndjson);
}

bool AdapterRun::idle(std::chrono::milliseconds wait) {
  rejects_.flush();  // a live feed's rejects reach the file while it waits
  if (options_.dry_run) {
    flush_stdout();
    std::fflush(stdout);
    std::this_thread::sleep_for(wait);
    return true;
  }
  if (log_publisher_) {
    // A live feed's partial batches go out while it waits, each waiting for
    // its PubAck (so the wait is at least that).
    if (!log_publisher_->flush()) return false;
    std::this_thread::sleep_for(wait);
    return true;
  }
  return publisher_->poll(wait);
}

void AdapterRun::replay_held() {
  if (held_.empty()) return;
  std::stable_sort(held_.begin(), held_.end(),
                   [](const HeldEvent& a, const HeldEvent& b) { return a.time_ms < b.time_ms; });
  const auto wall_start = Clock::now();
  const std::int64_t first = held_.front().time_ms;
  std::uint64_t sent = 0;
  for (const HeldEvent& event : held_) {
    const auto due =
        wall_start +
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(
            static_cast<double>(event.time_ms - first) / options_.replay_speed));
    while (!stopped() && Clock::now() < due) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now());
      if (!idle(std::min(left, kIdleWait))) break;
      progress_.show(counts(sent, sent, held_.size()), false);
    }
    if (stopped() || !emit(event.ndjson, event.origin)) break;
    ++sent;
    progress_.update(counts(sent, sent, held_.size()));
  }
}

void AdapterRun::finish_output() {
  if (options_.dry_run) {
    flush_stdout();
    std::fflush(stdout);
    return;
  }
  if (log_publisher_) {
    summary_.logged = log_publisher_->finish();
    return;
  }
  summary_.published = publisher_->finish();
  // tallyd's rejects, traced back to their records.
  for (const client::RejectedLine& refused : summary_.published.rejected_lines) {
    EventOrigins::Origin origin;
    const bool known = origins_.find(refused.input_line, origin);
    rejects_.write({known ? input_name(origin.input) : "?",
                    known ? origin.line : 0,
                    known && origin.element,
                    "tallyd",
                    refused.reason,
                    {},
                    {}});
  }
}

void AdapterRun::print_summary() const {
  const AdapterSummary& s = summary_;
  std::string text =
      fmt::format("{}: read {} records from {} input{} in {:.2f} s ({}/s)\n", options_.program,
                  thousands(s.records), s.inputs, s.inputs == 1 ? "" : "s", s.seconds,
                  thousands(static_cast<std::uint64_t>(
                      s.seconds > 0 ? static_cast<double>(s.records) / s.seconds : 0)));
  text += fmt::format("  events {} (revokes {}), rejected {}, skipped {}\n", thousands(s.events),
                      thousands(s.revokes), thousands(s.rejected_total()),
                      thousands(s.skipped_total()));
  for (const auto& [reason, count] : s.rejected) {
    text += fmt::format("    rejected {}: {}\n", reason, count);
  }
  for (const auto& [reason, count] : s.skipped) {
    text += fmt::format("    skipped {}: {}\n", reason, count);
  }
  if (log_publisher_) {
    const client::JetStreamPublishSummary& l = s.logged;
    text += fmt::format("  published {} events in {} batch{} to stream {} ({} partitions)\n",
                        thousands(l.events), thousands(l.batches), l.batches == 1 ? "" : "es",
                        options_.jetstream.stream, log_publisher_->partitions());
    text += fmt::format(
        "  acknowledged by the stream {}, batches already stored {}, retries {}, "
        "unacknowledged {}\n",
        thousands(l.acknowledged_events), thousands(l.duplicate_batches), thousands(l.retries),
        thousands(l.unacknowledged_events));
  } else if (!options_.dry_run) {
    const client::PublishSummary& p = s.published;
    text +=
        fmt::format("  sent {} events in {} batch{} to {}\n", thousands(p.events_sent),
                    thousands(p.batches), p.batches == 1 ? "" : "es", options_.publisher.endpoint);
    text += fmt::format("  tallyd accepted {}, duplicates {}, rejected {}, resends {}\n",
                        thousands(p.accepted), thousands(p.duplicates),
                        thousands(p.rejected_total()), thousands(p.resends));
    for (const auto& [reason, count] : p.rejected) {
      text += fmt::format("    tallyd rejected {}: {}\n", reason, count);
    }
  }
  if (rejects_.written() > 0) {
    text += fmt::format("  rejects: {} ({} records appended)\n", rejects_.path(),
                        thousands(rejects_.written()));
  }
  std::fputs(text.c_str(), stderr);
}

int AdapterRun::exit_code() const {
  if (!rejects_.ok()) {
    return fail(fmt::format("cannot write the rejects file {}", rejects_.path()));
  }
  if (!summary_.failure.empty()) return fail(summary_.failure);
  const client::PublishSummary& p = summary_.published;
  if (log_publisher_) {
    const client::JetStreamPublishSummary& l = summary_.logged;
    if (!l.failure.empty()) return fail(l.failure);
    if (!l.complete()) {
      std::fprintf(stderr,
                   "%s: %llu events never got a PubAck from the stream; running again is safe "
                   "(message and event ids make repeats duplicates)\n",
                   options_.program.c_str(),
                   static_cast<unsigned long long>(l.unacknowledged_events));
      return kExitUnacknowledged;
    }
  } else if (!options_.dry_run) {
    if (!p.failure.empty()) return fail(p.failure);
    if (!p.complete()) {
      std::fprintf(stderr,
                   "%s: %llu batches (%llu events) were never acknowledged; running again is "
                   "safe (event ids make repeats duplicates)\n",
                   options_.program.c_str(),
                   static_cast<unsigned long long>(p.unacknowledged_batches),
                   static_cast<unsigned long long>(p.unacknowledged_events));
      return kExitUnacknowledged;
    }
  }
  if (options_.strict && (summary_.rejected_total() > 0 || p.rejected_total() > 0)) {
    return kExitRejected;
  }
  return kExitComplete;
}

std::string_view AdapterRun::input_name(std::uint32_t index) const {
  return inputs_[index] == "-" ? std::string_view("<stdin>") : std::string_view(inputs_[index]);
}

ProgressCounts AdapterRun::counts(std::uint64_t records, std::uint64_t done,
                                  std::uint64_t total) const {
  return {records, done, total, publisher_ ? &publisher_->summary() : nullptr};
}

int AdapterRun::fail(std::string_view why) const {
  std::fprintf(stderr, "%s: %.*s\n", options_.program.c_str(), static_cast<int>(why.size()),
               why.data());
  return kExitFailure;
}

void AdapterRun::flush_stdout() {
  std::fwrite(stdout_buffer_.data(), 1, stdout_buffer_.size(), stdout);
  stdout_buffer_.clear();
}

}  // namespace tally::adapters
