// tally-bench: end-to-end load against a running tallyd, db_bench style: named
// workloads, one comparable line each.
//
//   batched  N events, --batch per message (default 1000), as fast as possible
//   single   N events, one event per message, as fast as possible
//   latency  events at a fixed --rate (default 100k/s) in small batches,
//            to read receive-to-applied latency at a realistic load
//
// Throughput runs from the first send until tallyd's `stats` shows every
// event processed. Latency quantiles come from the daemon's own
// tally_event_latency_seconds histogram (the difference across the run), so
// they measure receive-to-applied inside tallyd, not the client.
#include <fmt/format.h>
#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "adapters/http_get.h"
#include "adapters/query_client.h"
#include "stream/event_time.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  std::string workload = "batched";
  std::uint64_t events = 1'000'000;
  std::uint64_t subjects = 100'000;
  std::size_t batch = 0;  // 0: the workload's default
  double rate = 100'000;
  std::string types = "red_light,speeding_11_20,phone_use";
  std::string ingest = "tcp://127.0.0.1:7001";
  std::string query = "tcp://127.0.0.1:7003";
  std::string metrics = "127.0.0.1:9464";
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// The daemon's processed count: accepted + duplicates + rejected.
std::uint64_t processed(tally::adapters::QueryClient& client) {
  const auto answer = client.request(R"({"op":"stats"})");
  if (!answer) throw std::runtime_error("no answer from " + client.endpoint());
  simdjson::dom::parser parser;
  simdjson::dom::element stats = parser.parse(*answer);
  return stats["accepted"].get_uint64().value() + stats["duplicates"].get_uint64().value() +
         stats["rejected_total"].get_uint64().value();
}

// Bucket upper bound -> cumulative count, from the Prometheus text format.
std::map<double, double> latency_buckets(const std::string& address) {
  const auto colon = address.rfind(':');
  std::map<double, double> buckets;
  const auto body = tally::adapters::http_get(address.substr(0, colon),
                                              std::stoi(address.substr(colon + 1)), "/metrics");
  if (!body) return buckets;
  const std::string& response = *body;
  const std::string prefix = "tally_event_latency_seconds_bucket{le=\"";
  std::istringstream lines(response);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto quote = line.find('"', prefix.size());
    const std::string bound = line.substr(prefix.size(), quote - prefix.size());
    const double upper = bound == "+Inf" ? INFINITY : std::stod(bound);
    buckets[upper] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return buckets;
}

// Quantile from cumulative bucket counts, interpolating inside the bucket.
double quantile(const std::map<double, double>& cumulative, double q) {
  if (cumulative.empty()) return NAN;
  const double total = cumulative.rbegin()->second;
  if (total <= 0) return NAN;
  const double rank = q * total;
  double lower_bound = 0, lower_count = 0;
  for (const auto& [upper, count] : cumulative) {
    if (count >= rank) {
      if (std::isinf(upper)) return lower_bound;
      const double width = count - lower_count;
      return lower_bound + (upper - lower_bound) * (width > 0 ? (rank - lower_count) / width : 1);
    }
    lower_bound = upper;
    lower_count = count;
  }
  return lower_bound;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{"tally-bench - end-to-end load against a running tallyd (see bench/README.md)",
               "tally-bench"};
  app.add_option("--workload", settings.workload, "batched | single | latency")
      ->check(CLI::IsMember({"batched", "single", "latency"}))
      ->capture_default_str();
  app.add_option("--events", settings.events, "Events to send")->capture_default_str();
  app.add_option("--subjects", settings.subjects, "Distinct subjects")->capture_default_str();
  app.add_option("--batch", settings.batch,
                 "Events per message (default: 1000 batched, 1 single, 10 latency)");
  app.add_option("--rate", settings.rate, "latency workload: events/s")->capture_default_str();
  app.add_option("--types", settings.types, "Comma-separated event types (must be rules)")
      ->capture_default_str();
  app.add_option("--ingest", settings.ingest, "tallyd's PULL endpoint")->capture_default_str();
  app.add_option("--query", settings.query, "tallyd's query endpoint")->capture_default_str();
  app.add_option("--metrics", settings.metrics, "tallyd's metrics HOST:PORT")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (settings.batch == 0) {
    settings.batch = settings.workload == "batched" ? 1000 : settings.workload == "single" ? 1 : 10;
  }

  // Pre-build every message so that the sender measures the daemon, not itself.
  const auto types = split(settings.types, ',');
  const std::string run =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
  std::mt19937_64 random(42);
  const std::int64_t base_ms = 1704067200000;  // 2024-01-01
  std::vector<std::string> messages;
  std::string message;
  for (std::uint64_t i = 0; i < settings.events; ++i) {
    message += fmt::format(
        R"({{"id":"b{}-{}","subject":"plate:NY:{}","type":"{}","time":"{}","source":"cam-{}"}})",
        run, i, random() % settings.subjects, types[i % types.size()],
        tally::stream::format_rfc3339_ms(base_ms +
                                         static_cast<std::int64_t>(random() % 31536000000)),
        random() % 500);
    message += '\n';
    if ((i + 1) % settings.batch == 0 || i + 1 == settings.events) {
      messages.push_back(std::move(message));
      message.clear();
    }
  }

  zmq::context_t context(1);
  tally::adapters::QueryClient client(context, settings.query, std::chrono::seconds(10));
  const std::uint64_t before = processed(client);
  const auto buckets_before = latency_buckets(settings.metrics);
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::sndhwm, 10000);
  push.set(zmq::sockopt::linger, 60000);
  push.connect(settings.ingest);

  const auto start = Clock::now();
  const bool paced = settings.workload == "latency";
  const auto per_message = std::chrono::duration<double>(settings.batch / settings.rate);
  for (std::size_t m = 0; m < messages.size(); ++m) {
    if (paced) std::this_thread::sleep_until(start + per_message * static_cast<double>(m));
    if (!push.send(zmq::buffer(messages[m]), zmq::send_flags::none)) return 1;
  }
  while (processed(client) < before + settings.events) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  auto buckets = latency_buckets(settings.metrics);
  for (auto& [upper, count] : buckets)
    count -= buckets_before.count(upper) ? buckets_before.at(upper) : 0;
  fmt::print(
      "{:<9} {:>9} events  batch {:>5}  {:>6.2f} M events/s  p50 {:.3f} ms  p99 {:.3f} ms  "
      "p99.9 {:.3f} ms\n",
      settings.workload, settings.events, settings.batch,
      static_cast<double>(settings.events) / seconds / 1e6, quantile(buckets, 0.5) * 1e3,
      quantile(buckets, 0.99) * 1e3, quantile(buckets, 0.999) * 1e3);
  return 0;
}
