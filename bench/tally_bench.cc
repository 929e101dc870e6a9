// tally-bench: end-to-end load against a running tallyd, db_bench style: named
// workloads, one comparable line each.
//
//   batched  N events, --batch per message (default 1000), as fast as possible
//   single   N events, one event per message, as fast as possible
//   latency  events at a fixed --rate (default 100k/s) in small batches
//            (default 10), to read receive-to-applied latency at a set load
//   reload   the latency load, while --reloads `reload` requests are sent one
//            after another: each one's answer time (tallyd re-reads and
//            swaps its rules file), and the load's latency meanwhile. Start
//            tallyd on a big file: `tally-bench --write-rules FILE` writes one
//            (--rule-count rules, default 10,000, plus the --types).
//   rescale  the latency load (--rate, default 200k/s), while the worker
//            count is changed live through --rescale (default 4,2: to 4,
//            then back to 2), 2 s apart. For each change: its time, the key
//            groups and subjects moved, the longest pause of a group, the
//            longest an acknowledged one-event probe batch (sent one after
//            another throughout) waited for its answer, and p99
//            receive-to-applied during the change against the 2 s before.
//            Fill tallyd first (`--workload batched,rescale`) for a figure
//            at a given number of subjects.
//
// Each workload pre-builds its NDJSON (ids unique per run), then --threads
// senders publish it through the adapters' Publisher: PUSH to --ingest, or
// acknowledged batches to --submit with --ack. Throughput runs from the first
// send until tallyd's `stats` shows every event processed (accepted,
// duplicate or rejected). Latency quantiles come from the daemon's own
// tally_event_latency_seconds histogram (the difference of two scrapes of
// /metrics), so they measure receive-to-applied inside tallyd, not the client.
//
// With --nats the senders publish into a cluster's stream instead
// (client/jetstream_publisher.h, every batch waiting for its PubAck), --query
// may name several nodes (comma-separated: throughput runs until the last of
// them has every event), and a probe publishes one event every 10 ms and
// polls the first node until it counts it: "publish-to-applied" quantiles,
// from the publish call to the score showing the event, PubAck included.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "api/answers.h"
#include "api/endpoints.h"
#include "api/protocol.h"
#include "bench/generated_rules.h"
#include "client/http_get.h"
#include "client/jetstream_publisher.h"
#include "client/prometheus_histogram.h"
#include "client/publisher.h"
#include "client/query_client.h"
#include "core/event_time.h"
#include "core/nats_connection.h"

namespace {

using Clock = std::chrono::steady_clock;
using tally::api::StatsTotals;
using tally::client::HistogramBuckets;
using tally::client::PublishSummary;

struct Settings {
  std::string workloads = "batched";
  std::uint64_t events = 1'000'000;
  std::uint64_t subjects = 100'000;
  std::string types = "red_light,speeding_11_20,phone_use";
  std::size_t batch = 0;  // 0: the workload's default
  double rate = 0;        // events/s over all threads; 0 = as fast as possible
  bool ack = false;
  std::size_t in_flight = 8;  // --ack: batches waiting per sender
  unsigned threads = 1;
  std::string ingest = tally::api::kDefaultIngestEndpoint;
  std::string submit = tally::api::kDefaultSubmitEndpoint;
  std::string query = tally::api::kDefaultQueryEndpoint;  // the first of --query
  std::vector<std::string> queries;                       // every node of --query
  std::string metrics = tally::api::kDefaultMetricsAddress;
  double stall_s = 30;          // give up when tallyd's count stops moving this long
  unsigned reloads = 10;        // reload: requests sent during the load
  std::string rescale = "4,2";  // rescale: the worker counts to change to, in order
  std::string write_rules;      // write a generated rules file here and exit
  std::size_t rule_count = 10'000;
  std::string nats;  // NATS servers: publish into the stream
  std::string stream = tally::kDefaultStream;
  std::string key_file, server_key;  // tallyd --auth
  std::shared_ptr<const tally::security::CurveCredentials> curve;
};

// One workload's shape, after defaults.
struct Workload {
  std::string name;
  std::size_t batch;
  double rate;  // 0 = unpaced
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// The NDJSON for one sender: events [first, first + count) of the run.
std::string make_events(const Settings& settings, const std::vector<std::string>& types,
                        const std::string& run, std::uint64_t first, std::uint64_t count) {
  std::mt19937_64 random(first * 7919 + 42);
  // Event times in the year before now, so that they count under wall-clock rules.
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  constexpr std::uint64_t kYearMs = 365ull * 24 * 3600 * 1000;
  std::string out;
  out.reserve(count * 150);
  for (std::uint64_t i = first; i < first + count; ++i) {
    fmt::format_to(
        std::back_inserter(out),
        R"({{"id":"{}-{}","subject":"plate:NY:{}","type":"{}","time":"{}","source":"cam-{}"}})"
        "\n",
        run, i, random() % settings.subjects, types[i % types.size()],
        tally::format_rfc3339_ms(now_ms - static_cast<std::int64_t>(random() % kYearMs)),
        random() % 500);
  }
  return out;
}

// Calls `add` with each line of `events` (NDJSON), `rate` events/s if
// non-zero, pacing once a batch; stops when `add` fails.
template <typename Add>
void pace_lines(const std::string& events, std::size_t batch, double rate, Add&& add) {
  const auto start = Clock::now();
  const std::chrono::duration<double> per_event(rate > 0 ? 1.0 / rate : 0.0);
  std::uint64_t added = 0;
  std::size_t begin = 0;
  while (begin < events.size()) {
    const std::size_t end = std::min(events.find('\n', begin), events.size());
    if (!add(std::string_view(events).substr(begin, end - begin))) break;
    begin = end + 1;
    if (++added % batch == 0 && rate > 0) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                per_event * static_cast<double>(added)));
    }
  }
}

tally::client::JetStreamPublisherOptions log_publishing(const Settings& settings,
                                                        std::size_t batch) {
  tally::client::JetStreamPublisherOptions options;
  options.urls = tally::nats::parse_urls(settings.nats).value_or({});
  options.stream = settings.stream;
  options.batch_max_events = batch;
  options.client_name = "tally-bench";
  return options;
}

// Publishes into the stream (--nats); the summary in the ZeroMQ publisher's terms.
PublishSummary publish_to_log(const Settings& settings, const Workload& workload, double rate,
                              const std::string& events) {
  PublishSummary out;
  auto publisher =
      tally::client::JetStreamPublisher::open(log_publishing(settings, workload.batch));
  if (!publisher) {
    out.failure = publisher.status().to_string();
    return out;
  }
  pace_lines(events, workload.batch, rate,
             [&](std::string_view line) { return (*publisher)->add(line); });
  const tally::client::JetStreamPublishSummary s = (*publisher)->finish();
  out.events = out.events_sent = s.events;
  out.batches = s.batches;
  out.resends = s.retries;
  out.acknowledged_events = s.acknowledged_events;
  out.unacknowledged_events = s.unacknowledged_events;
  out.unacknowledged_batches = s.unacknowledged_batches;
  out.failure = s.failure;
  return out;
}

// Publishes `events` (NDJSON), `rate` events/s if non-zero, pacing once a batch.
PublishSummary publish(zmq::context_t& context, const Settings& settings, const Workload& workload,
                       double rate, const std::string& events) {
  if (!settings.nats.empty()) return publish_to_log(settings, workload, rate, events);
  tally::client::PublisherOptions options;
  options.acknowledged = settings.ack;
  options.endpoint = settings.ack ? settings.submit : settings.ingest;
  options.batch_max_events = workload.batch;
  options.batch_max_bytes = std::size_t{64} << 20;  // batches by count only
  options.max_in_flight = settings.in_flight;
  options.send_high_water_mark = 10000;
  options.curve = settings.curve;
  tally::client::Publisher publisher(context, options);
  pace_lines(events, workload.batch, rate,
             [&](std::string_view line) { return publisher.add(line); });
  return publisher.finish();
}

tally::Result<StatsTotals> stats(tally::client::QueryClient& client) {
  const auto answer = client.request(tally::api::to_json(tally::api::StatsRequest{}));
  if (!answer) return answer.status();
  const auto parsed = tally::api::parse_answer<tally::api::StatsAnswer>(*answer);
  if (!parsed) return parsed.status();
  return parsed->totals();
}

// What the reload workload measured: one answer time per reload.
struct ReloadTimes {
  std::vector<double> ms;
  std::uint64_t rules = 0;  // in the set the last reload loaded
  std::string failure;
};

// Sends `reload` requests one after another (20 ms apart, so that the load
// runs between them) until `count` are answered or `load_running` drops.
ReloadTimes reload_while(zmq::context_t& context, const Settings& settings, unsigned count,
                         const std::atomic<bool>& load_running) {
  ReloadTimes times;
  tally::client::QueryClient client(context, settings.query, std::chrono::seconds(10),
                                    settings.curve);
  const std::string request = tally::api::to_json(tally::api::ReloadRequest{});
  while (times.ms.size() < count && load_running.load()) {
    const auto start = Clock::now();
    const auto answer = client.request(request);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!answer) {
      times.failure = answer.status().to_string();
      break;
    }
    const auto reloaded = tally::api::parse_answer<tally::api::ReloadAnswer>(*answer);
    if (!reloaded) {
      times.failure = "reload refused: " + *answer;
      break;
    }
    times.ms.push_back(ms);
    times.rules = reloaded->rules;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return times;
}

// An acknowledged one-event batch after another, each timed from send to
// answer: how long acknowledgements wait while the worker count changes.
class AckProbe {
 public:
  AckProbe(zmq::context_t& context, const Settings& settings, const std::string& type)
      : thread_(
            [this, &context, endpoint = settings.submit, type] { run(context, endpoint, type); }) {}
  ~AckProbe() {
    stop_.store(true);
    thread_.join();
  }
  // The longest wait of a probe that was in flight at any time in [from, to].
  double longest_ms(Clock::time_point from, Clock::time_point to) {
    const std::lock_guard lock(mutex_);
    double longest = 0;
    for (const auto& [sent, answered] : probes_) {
      if (answered >= from && sent <= to) {
        longest =
            std::max(longest, std::chrono::duration<double, std::milli>(answered - sent).count());
      }
    }
    return longest;
  }

 private:
  void run(zmq::context_t& context, const std::string& endpoint, const std::string& type) {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(endpoint);
    for (std::uint64_t n = 0; !stop_.load(); ++n) {
      const std::string id = fmt::format("probe-{}-{}", Clock::now().time_since_epoch().count(), n);
      const std::string event = fmt::format(
          R"({{"id":"{}","subject":"probe:{}","type":"{}","time":"{}"}})", id, n % 100, type,
          tally::format_rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()));
      const auto sent = Clock::now();
      dealer.send(zmq::buffer(id), zmq::send_flags::sndmore);
      dealer.send(zmq::buffer(event));
      zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(10'000)) <= 0) break;
      std::vector<zmq::message_t> answer;
      (void)zmq::recv_multipart(dealer, std::back_inserter(answer));
      const std::lock_guard lock(mutex_);
      probes_.emplace_back(sent, Clock::now());
    }
  }

  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::pair<Clock::time_point, Clock::time_point>> probes_;  // sent, answered
  std::thread thread_;
};

// With --nats: one event every 10 ms through the stream, each timed from the
// publish call until the first node's score counts it (a subject of its own,
// so that one event is "counted").
class LogProbe {
 public:
  LogProbe(zmq::context_t& context, const Settings& settings, std::string run_id)
      : thread_([this, &context, &settings, run_id = std::move(run_id)] {
          run(context, settings, run_id);
        }) {}
  ~LogProbe() { stop(); }
  // Events the probe published (each counts once in every node's stats).
  std::uint64_t published() const noexcept { return published_; }
  // Stops the probe; the publish-to-applied times, sorted, in ms.
  std::vector<double> stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    std::sort(times_ms_.begin(), times_ms_.end());
    return times_ms_;
  }

 private:
  void run(zmq::context_t& context, const Settings& settings, const std::string& run_id) {
    auto publisher = tally::client::JetStreamPublisher::open(log_publishing(settings, 1));
    if (!publisher) return;
    tally::client::QueryClient client(context, settings.query, std::chrono::seconds(10),
                                      settings.curve);
    const std::string type = split(settings.types, ',').front();
    for (std::uint64_t n = 0; !stop_.load(); ++n) {
      const auto next = Clock::now() + std::chrono::milliseconds(10);
      const std::string subject = fmt::format("probe:{}:{}", run_id, n);
      const std::string request =
          tally::api::to_json(tally::api::Request(tally::api::ScoreRequest{subject, {}}));
      const auto sent = Clock::now();
      if (!(*publisher)
               ->add(fmt::format(
                   R"({{"id":"{}","subject":"{}","type":"{}","time":"{}"}})", subject, subject,
                   type,
                   tally::format_rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count())))) {
        return;
      }
      ++published_;
      while (!stop_.load() && Clock::now() - sent < std::chrono::seconds(10)) {
        const auto answer = client.request(request);
        if (!answer) return;
        const auto score = tally::api::parse_answer<tally::api::ScoreAnswer>(*answer);
        if (score && score->events > 0) {
          times_ms_.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
          break;
        }
      }
      std::this_thread::sleep_until(next);
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<double> times_ms_;  // written by the thread until stop()
  std::uint64_t published_ = 0;   // likewise
  std::thread thread_;
};

std::string quantile_ms(const std::vector<double>& sorted_ms, double q) {
  if (sorted_ms.empty()) return "n/a";
  const auto at = static_cast<std::size_t>(q * static_cast<double>(sorted_ms.size() - 1) + 0.5);
  return fmt::format("{:.3f} ms", sorted_ms[at]);
}

// tallyd's receive-to-applied histogram; empty if /metrics cannot be read.
HistogramBuckets latency_buckets(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {};
  const auto body = tally::client::http_get(address.substr(0, colon),
                                            std::atoi(address.c_str() + colon + 1), "/metrics");
  if (!body) return {};
  return tally::client::parse_histogram_buckets(*body, "tally_event_latency_seconds");
}

std::string milliseconds(const HistogramBuckets& buckets, double q) {
  const double seconds = tally::client::histogram_quantile(buckets, q);
  return std::isnan(seconds) ? "n/a" : fmt::format("{:.3f} ms", seconds * 1e3);
}

// rescale: while the load runs, each change of --rescale, measured (see the
// header); one line each. Empty failure: all went through.
std::string rescale_while(zmq::context_t& context, const Settings& settings,
                          const std::atomic<bool>& load_running) {
  using tally::api::WorkersAnswer;
  tally::client::QueryClient client(context, settings.query, std::chrono::seconds(30),
                                    settings.curve);
  AckProbe probe(context, settings, split(settings.types, ',').front());
  const auto pause = [&](std::chrono::seconds length) {
    const auto until = Clock::now() + length;
    while (Clock::now() < until && load_running.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  for (const std::string& target : split(settings.rescale, ',')) {
    const HistogramBuckets calm_start = latency_buckets(settings.metrics);
    const auto calm_from = Clock::now();
    pause(std::chrono::seconds(2));
    if (!load_running.load()) return "the load ended before the changes did; raise --events";
    const HistogramBuckets calm =
        tally::client::histogram_difference(latency_buckets(settings.metrics), calm_start);
    const double calm_ack_ms = probe.longest_ms(calm_from, Clock::now());

    const HistogramBuckets change_start = latency_buckets(settings.metrics);
    const auto from = Clock::now();
    auto answer = client.request(fmt::format(R"({{"op":"workers","set":{}}})", target));
    std::optional<WorkersAnswer> workers;
    while (answer) {
      auto parsed = tally::api::parse_answer<WorkersAnswer>(*answer);
      if (!parsed) return "workers " + target + ": " + parsed.status().to_string();
      workers = std::move(parsed).value();
      if (!workers->rescale || workers->rescale->state != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      answer =
          client.request(tally::api::to_json(tally::api::Request(tally::api::WorkersRequest{})));
    }
    if (!answer) return answer.status().to_string();
    const auto to = Clock::now();
    const HistogramBuckets during =
        tally::client::histogram_difference(latency_buckets(settings.metrics), change_start);
    const tally::api::RescaleStatus& r = *workers->rescale;
    fmt::print(
        "rescale {} -> {}: {} in {:.3f} s, {} key groups ({} subjects) moved, longest "
        "group pause {:.1f} ms; longest ack wait {:.1f} ms (before {:.1f} ms); p99 {} "
        "(before {})\n",
        r.from, r.to, r.state, r.seconds, r.groups_moved, r.subjects_moved,
        r.longest_pause_seconds * 1e3, probe.longest_ms(from, to), calm_ack_ms,
        milliseconds(during, 0.99), milliseconds(calm, 0.99));
    std::fflush(stdout);
    if (r.state != "done") return "the change " + r.state + ": " + r.error;
  }
  return {};
}

// Runs one workload; prints its line; false if tallyd did not process it all.
bool run(zmq::context_t& context,
         const std::vector<std::unique_ptr<tally::client::QueryClient>>& nodes,
         const Settings& settings, const Workload& workload, const std::string& run_id) {
  const auto types = split(settings.types, ',');
  std::vector<std::string> inputs(settings.threads);
  for (unsigned t = 0; t < settings.threads; ++t) {
    const std::uint64_t first = settings.events * t / settings.threads;
    const std::uint64_t last = settings.events * (t + 1) / settings.threads;
    inputs[t] = make_events(settings, types, run_id, first, last - first);
  }

  std::vector<StatsTotals> before;
  for (const auto& node : nodes) {
    const auto totals = stats(*node);
    if (!totals) {
      std::fprintf(stderr, "tally-bench: %s\n", totals.status().to_string().c_str());
      return false;
    }
    before.push_back(*totals);
  }
  const HistogramBuckets latency_before = latency_buckets(settings.metrics);
  std::optional<LogProbe> probe;
  if (!settings.nats.empty()) probe.emplace(context, settings, run_id);

  const auto start = Clock::now();
  std::vector<PublishSummary> summaries(settings.threads);
  std::vector<std::thread> senders;
  for (unsigned t = 0; t < settings.threads; ++t) {
    senders.emplace_back([&, t] {
      summaries[t] =
          publish(context, settings, workload, workload.rate / settings.threads, inputs[t]);
    });
  }
  std::atomic<bool> load_running{true};
  ReloadTimes reloads;
  std::string rescale_failure;
  std::thread reloader;
  if (workload.name == "reload") {
    reloader = std::thread(
        [&] { reloads = reload_while(context, settings, settings.reloads, load_running); });
  } else if (workload.name == "rescale") {
    reloader =
        std::thread([&] { rescale_failure = rescale_while(context, settings, load_running); });
  }
  for (auto& sender : senders) sender.join();
  load_running.store(false);
  // The probe measures under the load only; its events count like the load's.
  std::vector<double> probe_ms;
  std::uint64_t probe_events = 0;
  if (probe) {
    probe_ms = probe->stop();
    probe_events = probe->published();
  }
  if (reloader.joinable()) reloader.join();

  // Wait until every node has settled every event, or its count stops moving.
  std::uint64_t processed = settings.events;
  std::uint64_t rejected = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::uint64_t target = before[i].processed() + settings.events + probe_events;
    StatsTotals now = before[i];
    auto last_progress = Clock::now();
    while (now.processed() < target) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto latest = stats(*nodes[i]);
      if (latest && latest->processed() > now.processed()) {
        now = *latest;
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > std::chrono::duration<double>(settings.stall_s)) {
        break;
      }
    }
    const std::uint64_t done = now.processed() - before[i].processed();
    processed = std::min(processed, done > probe_events ? done - probe_events : 0);
    rejected = std::max(rejected, now.rejected - before[i].rejected);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const HistogramBuckets latency =
      tally::client::histogram_difference(latency_buckets(settings.metrics), latency_before);

  std::uint64_t resends = 0, unacknowledged = 0;
  std::string failure;
  for (const auto& summary : summaries) {
    resends += summary.resends;
    unacknowledged += summary.unacknowledged_events;
    if (failure.empty()) failure = summary.failure;
  }
  const std::string name = fmt::format("send-{}{}", workload.name, settings.ack ? "-ack" : "");
  fmt::print("{:<18} {:>9} events  batch {:>5}  {:>6.2f} M events/s  p50 {}  p99 {}  p99.9 {}",
             name, settings.events, workload.batch,
             static_cast<double>(std::min(processed, settings.events)) / seconds / 1e6,
             milliseconds(latency, 0.5), milliseconds(latency, 0.99), milliseconds(latency, 0.999));
  if (!probe_ms.empty()) {
    fmt::print("  publish-to-applied p50 {}  p99 {} ({} probes)", quantile_ms(probe_ms, 0.5),
               quantile_ms(probe_ms, 0.99), probe_ms.size());
  }
  if (nodes.size() > 1) fmt::print("  nodes {}", nodes.size());
  if (settings.threads > 1) fmt::print("  threads {}", settings.threads);
  if (workload.rate > 0) fmt::print("  rate {:g}/s", workload.rate);
  if (resends > 0) fmt::print("  resends {}", resends);
  if (!reloads.ms.empty()) {
    std::sort(reloads.ms.begin(), reloads.ms.end());
    fmt::print("  reloads {} of {} rules: p50 {:.1f} ms  max {:.1f} ms", reloads.ms.size(),
               reloads.rules, reloads.ms[reloads.ms.size() / 2], reloads.ms.back());
  }
  if (rejected > 0) fmt::print("  REJECTED {} (check --types against the rules)", rejected);
  fmt::print("\n");
  std::fflush(stdout);

  // The driver sends only valid events: a rejection means --types names no rule.
  bool complete = processed >= settings.events && rejected == 0;
  if (!complete) {
    std::fprintf(stderr, "tally-bench: %s: tallyd processed %llu of %llu events (stalled %gs)\n",
                 name.c_str(), static_cast<unsigned long long>(processed),
                 static_cast<unsigned long long>(settings.events), settings.stall_s);
  }
  if (!failure.empty() || unacknowledged > 0) {
    std::fprintf(stderr, "tally-bench: %s: %s%llu events unacknowledged\n", name.c_str(),
                 failure.empty() ? "" : (failure + "; ").c_str(),
                 static_cast<unsigned long long>(unacknowledged));
    complete = false;
  }
  if (workload.name == "reload" && (reloads.ms.empty() || !reloads.failure.empty())) {
    std::fprintf(stderr, "tally-bench: %s: %s\n", name.c_str(),
                 reloads.failure.empty() ? "the load ended before any reload; raise --events"
                                         : reloads.failure.c_str());
    complete = false;
  }
  if (!rescale_failure.empty()) {
    std::fprintf(stderr, "tally-bench: %s: %s\n", name.c_str(), rescale_failure.c_str());
    complete = false;
  }
  if (latency.empty()) {
    std::fprintf(stderr, "tally-bench: no tally_event_latency_seconds at http://%s/metrics\n",
                 settings.metrics.c_str());
  }
  return complete;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{
      "tally-bench - end-to-end load against a running tallyd, one line per workload.\n\n"
      "Workloads: batched (--batch default 1000, unpaced), single (one event a message,\n"
      "unpaced), latency (--rate default 100000 events/s, --batch default 10), reload\n"
      "(the latency load while --reloads reloads are timed), rescale (the latency load at\n"
      "200k/s while the worker count changes to each of --rescale; each change measured).\n"
      "Throughput: first send until tallyd's stats count every event. Latency: tallyd's\n"
      "tally_event_latency_seconds histogram (receive to applied) over the run.\n\n"
      "Example:\n"
      "  tallyd --rules config/rules/demerit-ny.toml --workers 2 &\n"
      "  tally-bench --workload batched,single,latency --subjects 1000000\n"
      "  tally-bench --write-rules /tmp/10k.toml && tallyd --rules /tmp/10k.toml &\n"
      "  tally-bench --workload reload\n"
      "  tally-bench --workload batched,rescale --subjects 1000000 --events 2000000 --ack\n"
      "  tally-bench --nats nats://127.0.0.1:4222 --query "
      "tcp://127.0.0.1:7003,tcp://127.0.0.1:7013",
      "tally-bench"};
  app.add_option("--workload", settings.workloads,
                 "Comma-separated workloads, run in order: batched, single, latency, reload, "
                 "rescale")
      ->capture_default_str();
  app.add_option("--events", settings.events, "Events per workload")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--subjects", settings.subjects, "Distinct subjects")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--types", settings.types, "Comma-separated event types; each must be a rule")
      ->capture_default_str();
  app.add_option("--batch", settings.batch,
                 "Events per message (default: 1000 batched, 1 single, 10 latency)");
  auto* rate = app.add_option("--rate", settings.rate,
                              "Events/s over all senders; 0 = as fast as possible "
                              "(default: 100000 for latency, else 0)");
  app.add_flag("--ack", settings.ack,
               "Acknowledged batches to --submit instead of PUSH to --ingest");
  app.add_option("--in-flight", settings.in_flight, "--ack: unanswered batches per sender")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", settings.threads, "Sender threads, each with its own socket")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--ingest", settings.ingest, "tallyd's PULL endpoint")->capture_default_str();
  app.add_option("--submit", settings.submit, "tallyd's acknowledged-batch endpoint")
      ->capture_default_str();
  app.add_option("--query", settings.query,
                 "tallyd's query endpoint; with --nats, comma-separated nodes (each must count "
                 "every event)")
      ->capture_default_str();
  app.add_option("--nats", settings.nats,
                 "Publish into a cluster's stream instead (NATS servers, comma-separated); "
                 "--ingest, --submit and --ack are then not used");
  app.add_option("--stream", settings.stream, "With --nats: the stream")->capture_default_str();
  app.add_option("--key", settings.key_file, "tallyd --auth: a secret key file (NAME.key)");
  app.add_option("--server-key", settings.server_key, "tallyd --auth: the server's public key");
  app.add_option("--metrics", settings.metrics, "tallyd's metrics HOST:PORT (IPv4)")
      ->capture_default_str();
  app.add_option("--stall", settings.stall_s,
                 "Seconds without progress in tallyd's count before giving up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--reloads", settings.reloads, "reload: reload requests to time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rescale", settings.rescale,
                 "rescale: the worker counts to change to, in order, e.g. 4,2")
      ->capture_default_str();
  app.add_option("--write-rules", settings.write_rules,
                 "Write a generated rules file (--rule-count rules plus the --types) and exit");
  app.add_option("--rule-count", settings.rule_count, "--write-rules: generated rules")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  {
    auto curve = tally::security::load_credentials(settings.key_file, settings.server_key);
    if (!curve) {
      std::fprintf(stderr, "tally-bench: %s\n", curve.status().to_string().c_str());
      return 2;
    }
    settings.curve = std::move(curve).value();
  }
  const bool rate_given = rate->count() > 0;
  settings.queries = split(settings.query, ',');
  if (settings.queries.empty()) {
    std::fprintf(stderr, "tally-bench: --query is empty\n");
    return 2;
  }
  settings.query = settings.queries.front();
  if (!settings.nats.empty() && !tally::nats::parse_urls(settings.nats)) {
    std::fprintf(stderr, "tally-bench: --nats: %s\n",
                 tally::nats::parse_urls(settings.nats).status().to_string().c_str());
    return 2;
  }

  if (!settings.write_rules.empty()) {
    std::ofstream out(settings.write_rules, std::ios::binary);
    out << tally::bench::generated_rules_toml(settings.rule_count, split(settings.types, ','));
    if (!out.flush()) {
      std::fprintf(stderr, "tally-bench: cannot write %s\n", settings.write_rules.c_str());
      return 2;
    }
    fmt::print("wrote {}: {} rules\n", settings.write_rules,
               settings.rule_count + split(settings.types, ',').size());
    return 0;
  }

  std::vector<Workload> workloads;
  for (const std::string& name : split(settings.workloads, ',')) {
    Workload workload{name, settings.batch, settings.rate};
    if (name == "batched") {
      if (workload.batch == 0) workload.batch = 1000;
    } else if (name == "single") {
      if (workload.batch == 0) workload.batch = 1;
    } else if (name == "latency" || name == "reload") {
      if (workload.batch == 0) workload.batch = 10;
      if (!rate_given) workload.rate = 100'000;
    } else if (name == "rescale") {
      if (workload.batch == 0) workload.batch = 10;
      if (!rate_given) workload.rate = 200'000;
    } else {
      std::fprintf(stderr,
                   "tally-bench: unknown workload `%s` (batched, single, latency, reload, "
                   "rescale)\n",
                   name.c_str());
      return 2;
    }
    workloads.push_back(workload);
  }
  if (split(settings.types, ',').empty()) {
    std::fprintf(stderr, "tally-bench: --types is empty\n");
    return 2;
  }

  try {
    zmq::context_t context(1);
    std::vector<std::unique_ptr<tally::client::QueryClient>> nodes;
    for (const std::string& endpoint : settings.queries) {
      nodes.push_back(std::make_unique<tally::client::QueryClient>(
          context, endpoint, std::chrono::seconds(10), settings.curve));
    }
    // Ids unique per run and workload, so that no event is a duplicate of an earlier run's.
    const std::string run_id = fmt::format(
        "bench{:x}", std::chrono::system_clock::now().time_since_epoch().count() % 0xffffffffff);
    bool all_complete = true;
    for (std::size_t w = 0; w < workloads.size(); ++w) {
      all_complete &= run(context, nodes, settings, workloads[w], fmt::format("{}-{}", run_id, w));
    }
    return all_complete ? 0 : 1;
  } catch (const zmq::error_t& error) {
    std::fprintf(stderr, "tally-bench: %s (endpoints look like %s)\n", error.what(),
                 tally::api::kDefaultIngestEndpoint);
    return 2;
  }
}
