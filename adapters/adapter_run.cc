#include "adapters/adapter_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "adapters/byte_source.h"
#include "adapters/record_reader.h"
#include "stream/json_text.h"

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

std::string thousands(std::uint64_t value) {
  const std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string duration_text(double seconds) {
  const auto whole = static_cast<std::uint64_t>(seconds + 0.5);
  if (whole >= 3600)
    return fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60);
  return fmt::format("{}:{:02}", whole / 60, whole % 60);
}

// Expands directories into their regular files, in name order.
bool expand_inputs(const std::vector<std::string>& given, std::vector<std::string>& out,
                   std::string& error) {
  namespace fs = std::filesystem;
  for (const std::string& input : given) {
    std::error_code code;
    if (input != "-" && fs::is_directory(input, code)) {
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
      if (code) {
        error = fmt::format("cannot list {}: {}", input, code.message());
        return false;
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        error = fmt::format("{} holds no files", input);
        return false;
      }
      out.insert(out.end(), files.begin(), files.end());
    } else {
      out.push_back(input);
    }
  }
  return true;
}

// Shows progress: a bar on a terminal, or a log line now and then.
class ProgressMeter {
 public:
  ProgressMeter(const AdapterOptions& options)
      : program_(options.program), interval_(options.progress_interval) {
    mode_ = options.progress;
    if (mode_ == ProgressMode::kAuto) {
      mode_ = ::isatty(STDERR_FILENO) != 0 ? ProgressMode::kBar : ProgressMode::kLog;
    }
    if (mode_ == ProgressMode::kBar) interval_ = std::chrono::milliseconds(200);
    started_ = last_ = Clock::now();
  }

  // Called per record; cheap unless it is time to show something.
  void update(std::uint64_t records, std::uint64_t done_bytes, std::uint64_t total_bytes) {
    if (mode_ == ProgressMode::kOff || (++calls_ & 255) != 0) return;
    show(records, done_bytes, total_bytes, false);
  }
  void show(std::uint64_t records, std::uint64_t done_bytes, std::uint64_t total_bytes,
            bool force) {
    if (mode_ == ProgressMode::kOff || (force && mode_ == ProgressMode::kLog && !shown_)) return;
    const auto now = Clock::now();
    if (!force && now - last_ < interval_) return;
    last_ = now;
    shown_ = true;
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(records) / elapsed : 0;
    std::string text = fmt::format("{} records  {}/s", thousands(records),
                                   thousands(static_cast<std::uint64_t>(rate)));
    if (total_bytes > 0 && done_bytes <= total_bytes) {
      const double fraction = static_cast<double>(done_bytes) / static_cast<double>(total_bytes);
      if (mode_ == ProgressMode::kBar) {
        constexpr int kWidth = 24;
        const int filled = static_cast<int>(fraction * kWidth);
        text += fmt::format("  [{}{}]", std::string(static_cast<std::size_t>(filled), '#'),
                            std::string(static_cast<std::size_t>(kWidth - filled), '.'));
      }
      text += fmt::format(" {:3.0f}%", fraction * 100);
      if (fraction > 0.001 && fraction < 1) {
        text += fmt::format("  ETA {}", duration_text(elapsed * (1 - fraction) / fraction));
      }
    }
    if (mode_ == ProgressMode::kBar) {
      std::fprintf(stderr, "\r%s\033[K", text.c_str());
      drawn_ = true;
    } else {
      std::fprintf(stderr, "%s: %s\n", program_.c_str(), text.c_str());
    }
    std::fflush(stderr);
  }
  // Clears the bar before other output.
  void clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  std::string program_;
  ProgressMode mode_;
  std::chrono::milliseconds interval_;
  Clock::time_point started_, last_;
  std::uint64_t calls_ = 0;
  bool drawn_ = false;
  bool shown_ = false;  // a line was shown: a final one closes it
};

}  // namespace

// Where each published event came from: runs of consecutive lines of one
// input, so that tallyd's rejects can be traced back without a record per event.
struct AdapterRun::Impl {
  struct Origin {
    std::uint64_t first_event;  // publisher input line (from 1) of the run's first event
    std::uint32_t input;
    std::uint64_t line;
    bool element;  // a JSON array element index rather than a line
  };
  std::vector<Origin> origins;
  std::uint64_t events_added = 0;

  void note(std::uint32_t input, std::uint64_t line, bool element) {
    ++events_added;
    if (!origins.empty()) {
      const Origin& last = origins.back();
      if (last.input == input && last.element == element &&
          last.line + (events_added - last.first_event) == line) {
        return;
      }
    }
    origins.push_back({events_added, input, line, element});
  }
  const Origin* find(std::uint64_t event, std::uint64_t& line) const {
    const auto after = std::upper_bound(
        origins.begin(), origins.end(), event,
        [](std::uint64_t value, const Origin& origin) { return value < origin.first_event; });
    if (after == origins.begin()) return nullptr;
    const Origin& origin = *std::prev(after);
    line = origin.line + (event - origin.first_event);
    return &origin;
  }
};

namespace {

// The rejects file, opened on first use.
class RejectsFile {
 public:
  explicit RejectsFile(std::string path) : path_(std::move(path)) {}
  ~RejectsFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool write(std::string_view input, std::uint64_t line, bool element, std::string_view stage,
             std::string_view reason, std::string_view detail, std::string_view raw) {
    if (file_ == nullptr) {
      file_ = std::fopen(path_.c_str(), "a");
      if (file_ == nullptr) return false;
    }
    std::string out = "{\"input\":";
    stream::append_json_string(out, input);
    out += fmt::format(",\"{}\":{},\"stage\":", element ? "element" : "line", line);
    stream::append_json_string(out, stage);
    out += ",\"reason\":";
    stream::append_json_string(out, reason);
    if (!detail.empty()) {
      out += ",\"detail\":";
      stream::append_json_string(out, detail);
    }
    if (raw.ends_with('\r')) raw.remove_suffix(1);  // a CRLF record's CR
    if (!raw.empty()) {
      out += ",\"record\":";
      stream::append_json_string(out, raw);
    }
    out += "}\n";
    ++written_;
    return std::fwrite(out.data(), 1, out.size(), file_) == out.size();
  }
  std::uint64_t written() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t written_ = 0;
};

// An event held back for --replay-speed.
struct HeldEvent {
  std::int64_t time_ms;
  std::uint32_t input;
  std::uint64_t line;
  bool element;
  std::string ndjson;
};

}  // namespace

AdapterRun::AdapterRun(AdapterOptions options, Mapping& mapping, const std::atomic<bool>* stop)
    : options_(std::move(options)), mapping_(mapping), stop_(stop) {
  if (options_.rejects_path.empty()) options_.rejects_path = options_.program + "-rejects.ndjson";
  options_.publisher.acknowledged = true;
}

int AdapterRun::run() {
  const auto started = Clock::now();
  const std::string& program = options_.program;
  const auto stopped = [&] { return stop_ != nullptr && stop_->load(std::memory_order_relaxed); };
  const auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), why.c_str());
    return kExitFailure;
  };

  std::vector<std::string> inputs;
  std::string error;
  if (!expand_inputs(options_.inputs, inputs, error)) return fail(error);
  if (inputs.empty()) return fail("no input (give files, directories, or - for stdin)");
  if (options_.follow && (inputs.size() != 1 || inputs[0] == "-")) {
    return fail("--follow takes exactly one file (not a directory or -)");
  }
  if (options_.follow && options_.replay_speed > 0) {
    return fail("--follow and --replay-speed do not go together (a replay reads to the end first)");
  }
  // Open every input before sending anything: a typo fails fast.
  std::vector<std::unique_ptr<ByteSource>> sources;
  for (const std::string& input : inputs) {
    if (options_.follow) {
      sources.push_back(follow_input(input));
      continue;
    }
    auto source = open_input(input, error);
    if (!source) return fail(error);
    sources.push_back(std::move(source));
  }
  summary_.inputs = inputs.size();

  zmq::context_t context(1);
  std::optional<Publisher> publisher;
  if (!options_.dry_run) publisher.emplace(context, options_.publisher);
  Impl impl;
  RejectsFile rejects(options_.rejects_path);
  ProgressMeter progress(options_);
  std::vector<HeldEvent> held;
  std::string line;
  std::string stdout_buffer;
  bool rejects_ok = true;

  // Hands one event on: to the publisher, or to stdout for a dry run.
  const auto emit = [&](std::string_view ndjson, std::uint32_t input, std::uint64_t at,
                        bool element) {
    if (options_.dry_run) {
      stdout_buffer.append(ndjson);
      stdout_buffer.push_back('\n');
      if (stdout_buffer.size() >= (1 << 16)) {
        std::fwrite(stdout_buffer.data(), 1, stdout_buffer.size(), stdout);
        stdout_buffer.clear();
      }
      return true;
    }
    impl.note(input, at, element);
    return publisher->add(ndjson);
  };
  const auto idle = [&](std::chrono::milliseconds wait) {
    if (options_.dry_run) {
      if (!stdout_buffer.empty()) {
        std::fwrite(stdout_buffer.data(), 1, stdout_buffer.size(), stdout);
        stdout_buffer.clear();
      }
      std::fflush(stdout);
      std::this_thread::sleep_for(wait);
      return true;
    }
    return publisher->poll(wait);
  };

  std::uint64_t consumed_before = 0, total_bytes = 0;
  for (const auto& source : sources) total_bytes += source->total();
  bool sending = true;
  for (std::uint32_t i = 0; i < sources.size() && sending && !stopped(); ++i) {
    ByteSource& source = *sources[i];
    RecordReader reader(source, mapping_.format(), mapping_.delimiter());
    const std::string& name = inputs[i] == "-" ? std::string("<stdin>") : inputs[i];
    for (;;) {
      const RecordReader::Next next = reader.next();
      if (next == RecordReader::Next::kEnd) break;
      if (next == RecordReader::Next::kError) {
        summary_.failure = fmt::format("{}: {}", name, reader.error());
        sending = false;
        break;
      }
      if (next == RecordReader::Next::kIdle) {
        if (stopped()) break;
        progress.show(summary_.records, 0, 0, false);
        if (!idle(std::chrono::milliseconds(100))) {
          sending = false;
          break;
        }
        continue;
      }
      ++summary_.records;
      MapResult result;
      if (next == RecordReader::Next::kRejected) {
        result.issue = reader.issue();
        result.detail = reader.detail();
      } else {
        line.clear();
        result = mapping_.map(reader.record(), line);
      }
      if (result.issue == RecordIssue::kNone) {
        ++summary_.events;
        if (result.revoke) ++summary_.revokes;
        if (options_.replay_speed > 0) {
          held.push_back({result.time_ms, i, reader.line(), reader.in_array(), line});
        } else if (!emit(line, i, reader.line(), reader.in_array())) {
          sending = false;
          break;
        }
      } else if (is_skip(result.issue)) {
        ++summary_.skipped[std::string(record_issue_name(result.issue))];
      } else {
        ++summary_.rejected[std::string(record_issue_name(result.issue))];
        rejects_ok &= rejects.write(name, reader.line(), reader.in_array(), "adapter",
                                    record_issue_name(result.issue), result.detail, reader.raw());
      }
      progress.update(summary_.records, consumed_before + source.consumed(), total_bytes);
      if (stopped()) break;
    }
    consumed_before += source.consumed();
  }

  // --replay-speed: everything read; send in event-time order, paced.
  if (sending && !held.empty() && summary_.failure.empty()) {
    std::stable_sort(held.begin(), held.end(),
                     [](const HeldEvent& a, const HeldEvent& b) { return a.time_ms < b.time_ms; });
    const auto wall_start = Clock::now();
    const std::int64_t first = held.front().time_ms;
    std::uint64_t sent = 0;
    for (const HeldEvent& event : held) {
      const auto due =
          wall_start +
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(
              static_cast<double>(event.time_ms - first) / options_.replay_speed));
      while (!stopped() && Clock::now() < due) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now());
        if (!idle(std::min(left, std::chrono::milliseconds(100)))) break;
        progress.show(sent, sent, held.size(), false);
      }
      if (stopped() || !emit(event.ndjson, event.input, event.line, event.element)) break;
      ++sent;
      progress.update(sent, sent, held.size());
    }
  }

  if (options_.dry_run) {
    std::fwrite(stdout_buffer.data(), 1, stdout_buffer.size(), stdout);
    std::fflush(stdout);
  } else {
    summary_.published = publisher->finish();
    // tallyd's rejects, traced back to their records.
    for (const RejectedLine& refused : summary_.published.rejected_lines) {
      std::uint64_t at = 0;
      const Impl::Origin* origin = impl.find(refused.input_line, at);
      const std::string name =
          origin == nullptr ? "?"
                            : (inputs[origin->input] == "-" ? "<stdin>" : inputs[origin->input]);
      rejects_ok &= rejects.write(name, at, origin != nullptr && origin->element, "tallyd",
                                  refused.reason, {}, {});
    }
  }
  summary_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  progress.show(summary_.records, consumed_before, total_bytes, true);
  progress.clear();

  // The summary.
  const AdapterSummary& s = summary_;
  std::string text =
      fmt::format("{}: read {} records from {} input{} in {:.2f} s ({}/s)\n", program,
                  thousands(s.records), s.inputs, s.inputs == 1 ? "" : "s", s.seconds,
                  thousands(static_cast<std::uint64_t>(s.seconds > 0 ? s.records / s.seconds : 0)));
  text += fmt::format("  events {} (revokes {}), rejected {}, skipped {}\n", thousands(s.events),
                      thousands(s.revokes), thousands(s.rejected_total()),
                      thousands(s.skipped_total()));
  for (const auto& [reason, count] : s.rejected)
    text += fmt::format("    rejected {}: {}\n", reason, count);
  for (const auto& [reason, count] : s.skipped)
    text += fmt::format("    skipped {}: {}\n", reason, count);
  const PublishSummary& p = s.published;
  if (!options_.dry_run) {
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
  if (rejects.written() > 0) {
    text += fmt::format("  rejects: {} ({} records appended)\n", rejects.path(),
                        thousands(rejects.written()));
  }
  std::fputs(text.c_str(), stderr);

  if (!rejects_ok) return fail(fmt::format("cannot write the rejects file {}", rejects.path()));
  if (!s.failure.empty()) return fail(s.failure);
  if (!options_.dry_run) {
    if (!p.failure.empty()) return fail(p.failure);
    if (!p.complete()) {
      std::fprintf(stderr,
                   "%s: %llu batches (%llu events) were never acknowledged; running again is "
                   "safe (event ids make repeats duplicates)\n",
                   program.c_str(), static_cast<unsigned long long>(p.unacknowledged_batches),
                   static_cast<unsigned long long>(p.unacknowledged_events));
      return kExitUnacknowledged;
    }
  }
  if (options_.strict && (s.rejected_total() > 0 || p.rejected_total() > 0)) return kExitRejected;
  return kExitComplete;
}

}  // namespace tally::adapters
