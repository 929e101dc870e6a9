#include "monitoring/metrics_exporter.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

namespace tally::monitoring {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily result;
  result.name = std::move(name);
  result.help = std::move(help);
  result.type = type;
  return result;
}

void add(MetricFamily& into, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (into.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  into.metric.push_back(std::move(metric));
}

// A family with one unlabelled sample.
MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily result = family(std::move(name), std::move(help), type);
  add(result, value);
  return result;
}

// Opens and closes a TCP connection to an IPv4 HOST:PORT; failures ignored.
void knock(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::close(fd);
}

}  // namespace

class MetricsExporter::Collector final : public prometheus::Collectable {
 public:
  Collector(MetricsOptions options, scorer::Engine& engine, const IngestCounters& ingest,
            const scorer::Autoscaler* autoscaler, const AlertCounters* alerts,
            const AuthCounters* auth, const JetStreamCounters* jetstream)
      : options_(std::move(options)),
        engine_(engine),
        ingest_(ingest),
        autoscaler_(autoscaler),
        alerts_(alerts),
        auth_(auth),
        jetstream_(jetstream) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    const auto relaxed = [](const std::atomic<std::uint64_t>& counter) {
      return static_cast<double>(counter.load(std::memory_order_relaxed));
    };

    auto build = family("tally_build_info", "Build of the running tallyd; the value is always 1",
                        MetricType::Gauge);
    add(build, 1, {{"version", options_.version}});
    out.push_back(std::move(build));

    out.push_back(single("tally_ingest_messages_total",
                         "ZeroMQ messages carrying a batch, both ingest sockets",
                         MetricType::Counter, relaxed(ingest_.messages)));
    out.push_back(single("tally_events_received_total", "Non-blank NDJSON lines received",
                         MetricType::Counter, relaxed(ingest_.received)));

    auto rejected =
        family("tally_events_rejected_total",
               "Lines refused, by reason (each is in rejected.ndjson)", MetricType::Counter);
    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
      add(rejected, relaxed(ingest_.rejected[r]), {{"reason", std::string(kRejectReasonNames[r])}});
    }
    out.push_back(std::move(rejected));

    out.push_back(single("tally_rejects_unwritten_total",
                         "Rejected lines counted but not written to the dead-letter file (its "
                         "byte budget: twice the bytes of the rejected lines)",
                         MetricType::Counter, relaxed(ingest_.rejects_unwritten)));
    auto connections =
        family("tally_ingest_connections_total",
               "Producer connections to the ingest (PULL) and submit (ROUTER) sockets, accepted "
               "and closed; a message over --max-message-bytes closes its sender's",
               MetricType::Counter);
    for (const auto& [socket, counts] :
         {std::pair<const char*, const ConnectionCounts*>{"ingest", &ingest_.ingest_connections},
          {"submit", &ingest_.submit_connections}}) {
      add(connections, relaxed(counts->accepted), {{"socket", socket}, {"event", "accepted"}});
      add(connections, relaxed(counts->closed), {{"socket", socket}, {"event", "closed"}});
    }
    out.push_back(std::move(connections));

    out.push_back(single("tally_bad_batches_total",
                         "Acknowledged-batch messages refused for their framing",
                         MetricType::Counter, relaxed(ingest_.bad_batches)));
    out.push_back(single("tally_batches_acknowledged_total", "Acknowledged batches answered",
                         MetricType::Counter, relaxed(ingest_.acks_sent)));

    auto reloads =
        family("tally_rules_reloads_total", "Rules reloads, by result", MetricType::Counter);
    add(reloads, static_cast<double>(engine_.reloads_ok()), {{"result", "ok"}});
    add(reloads, static_cast<double>(engine_.reloads_refused()), {{"result", "refused"}});
    out.push_back(std::move(reloads));

    out.push_back(single("tally_snapshots_total", "Complete snapshots written since start",
                         MetricType::Counter, static_cast<double>(engine_.snapshots_taken())));
    out.push_back(single("tally_rules_version",
                         "Version of the live rule set (continues across restarts)",
                         MetricType::Gauge, engine_.rules().version()));
    out.push_back(single("tally_workers", "Shard workers", MetricType::Gauge, engine_.workers()));
    append_rescale_families(out);
    if (alerts_ != nullptr) append_alert_families(out, relaxed);
    if (auth_ != nullptr) {
      auto handshakes = family("tally_auth_handshakes_total",
                               "Connections to the ZeroMQ sockets under --auth, let in or refused "
                               "(no CURVE, an unknown key, or roles that do not open the socket)",
                               MetricType::Counter);
      add(handshakes, relaxed(auth_->allowed), {{"result", "allowed"}});
      add(handshakes, relaxed(auth_->denied), {{"result", "denied"}});
      out.push_back(std::move(handshakes));
    }

    if (jetstream_ != nullptr) append_jetstream_families(out, relaxed);

    append_shard_families(out);
    return out;
  }

 private:
  // A cluster node's consumers of the replicated log (stream/jetstream_source.h).
  template <typename Relaxed>
  void append_jetstream_families(std::vector<MetricFamily>& out, const Relaxed& relaxed) const {
    out.push_back(single("tally_jetstream_acked_total",
                         "Messages of the log acknowledged to JetStream, each once its events "
                         "were journaled by the rules of --fsync",
                         MetricType::Counter, relaxed(jetstream_->acked)));
    out.push_back(single("tally_jetstream_redeliveries_total",
                         "Messages JetStream delivered more than once (not acknowledged in "
                         "time, or a restart); their events are dropped by id",
                         MetricType::Counter, relaxed(jetstream_->redeliveries)));
    out.push_back(single("tally_jetstream_ack_failures_total",
                         "Acknowledgements that could not be sent (the message comes again)",
                         MetricType::Counter, relaxed(jetstream_->ack_failures)));
    out.push_back(single("tally_jetstream_fetch_errors_total",
                         "Fetches from the log that failed (a server lost, a leader changing)",
                         MetricType::Counter, relaxed(jetstream_->fetch_errors)));
    out.push_back(single("tally_jetstream_rules_switches_total",
                         "Rules from the log put in force (every partition reached its rules "
                         "message)",
                         MetricType::Counter, relaxed(jetstream_->rules_switches)));
    out.push_back(single("tally_jetstream_rules_refused_total",
                         "Rules messages from the log this node could not use (damaged, or "
                         "refused by its validation)",
                         MetricType::Counter, relaxed(jetstream_->rules_refused)));
    out.push_back(single("tally_jetstream_rules_held",
                         "1 while partitions are held at a rules barrier that cannot be crossed "
                         "(the node reads nothing more of them until the intended rules are "
                         "published and it restarts)",
                         MetricType::Gauge,
                         jetstream_->rules_stuck.load(std::memory_order_relaxed) ? 1.0 : 0.0));
    auto lag = family("tally_jetstream_consumer_lag_messages",
                      "Messages of a partition stored in the stream and not yet delivered to "
                      "this node (refreshed every 2 s); only partitions the node owns",
                      MetricType::Gauge);
    for (std::size_t partition = 0; partition < jetstream_->lag.size(); ++partition) {
      const std::int64_t value = jetstream_->lag[partition].load(std::memory_order_relaxed);
      if (value < 0) continue;
      add(lag, static_cast<double>(value), {{"partition", std::to_string(partition)}});
    }
    out.push_back(std::move(lag));
  }

  // The alert log and the alerts socket (daemon/alert_publisher.h).
  template <typename Relaxed>
  void append_alert_families(std::vector<MetricFamily>& out, const Relaxed& relaxed) const {
    out.push_back(single("tally_alerts_published_total",
                         "Alerts sent on the alerts (PUB) socket, each after it was in the alert "
                         "log; a subscriber that fell behind may have missed some (the log has "
                         "them)",
                         MetricType::Counter, relaxed(alerts_->published)));
    out.push_back(single("tally_alerts_restored_total",
                         "Journaled alerts the alert log lacked at start (a crash came between "
                         "the two writes), appended then",
                         MetricType::Counter, relaxed(alerts_->restored)));
    out.push_back(single("tally_alert_log_bytes", "Bytes the alert log holds", MetricType::Gauge,
                         relaxed(alerts_->log_bytes)));
    out.push_back(single("tally_alert_log_oldest_seq",
                         "The oldest alert seq the log still holds (older ones were dropped by "
                         "--alerts-retain or --alerts-max-bytes)",
                         MetricType::Gauge, relaxed(alerts_->oldest_seq)));
    out.push_back(single("tally_alert_log_next_seq", "The seq the next alert gets",
                         MetricType::Gauge, relaxed(alerts_->next_seq)));
    out.push_back(single("tally_alert_log_errors_total",
                         "Failed writes of the alert log (its alerts wait, unpublished, and are "
                         "retried)",
                         MetricType::Counter, relaxed(alerts_->log_errors)));
  }

  // Live worker-count changes and the autoscaler's decisions.
  void append_rescale_families(std::vector<MetricFamily>& out) const {
    const scorer::RescaleTotals totals = engine_.rescale_totals();
    auto rescales = family("tally_rescales_total",
                           "Worker-count changes, by result (busy: refused while one ran)",
                           MetricType::Counter);
    add(rescales, static_cast<double>(totals.ok), {{"result", "ok"}});
    add(rescales, static_cast<double>(totals.failed), {{"result", "failed"}});
    add(rescales, static_cast<double>(totals.busy), {{"result", "busy"}});
    out.push_back(std::move(rescales));
    out.push_back(single("tally_key_group_moves_total",
                         "Key groups moved from one worker to another by worker-count changes",
                         MetricType::Counter, static_cast<double>(totals.group_moves)));
    auto seconds = family("tally_rescale_seconds", "How long each worker-count change took",
                          MetricType::Histogram);
    static constexpr std::array<double, 10> kBounds = {0.01, 0.05, 0.1, 0.25, 0.5,
                                                       1,    2.5,  5,   10,   30};
    ClientMetric metric;
    double sum = 0;
    for (const double bound : kBounds) {
      const auto within = std::count_if(totals.seconds.begin(), totals.seconds.end(),
                                        [&](double s) { return s <= bound; });
      metric.histogram.bucket.push_back({static_cast<std::uint64_t>(within), bound});
    }
    for (const double s : totals.seconds) sum += s;
    metric.histogram.bucket.push_back(
        {totals.seconds.size(), std::numeric_limits<double>::infinity()});
    metric.histogram.sample_count = totals.seconds.size();
    metric.histogram.sample_sum = sum;
    seconds.metric.push_back(std::move(metric));
    out.push_back(std::move(seconds));
    auto decisions =
        family("tally_autoscale_decisions_total",
               "Worker-count changes the autoscaler decided, by direction", MetricType::Counter);
    add(decisions, autoscaler_ != nullptr ? static_cast<double>(autoscaler_->ups()) : 0.0,
        {{"direction", "up"}});
    add(decisions, autoscaler_ != nullptr ? static_cast<double>(autoscaler_->downs()) : 0.0,
        {{"direction", "down"}});
    out.push_back(std::move(decisions));
  }

  void append_shard_families(std::vector<MetricFamily>& out) const {
    const std::vector<scorer::ShardStats> shards = engine_.stats(scorer::QueueRow::kMetrics);

    auto accepted =
        family("tally_events_accepted_total", "Events applied, by worker", MetricType::Counter);
    auto duplicates = family("tally_events_duplicate_total",
                             "Events whose id was already seen, by worker", MetricType::Counter);
    auto subjects = family("tally_subjects", "Subjects held, by worker", MetricType::Gauge);
    auto memory = family("tally_subject_memory_bytes",
                         "Approximate heap bytes of subject state, by worker", MetricType::Gauge);
    auto depth =
        family("tally_queue_depth", "Items waiting in a worker's queues", MetricType::Gauge);
    auto busy = family("tally_worker_busy_seconds_total",
                       "Time a worker spent applying events and commands; its rate is the "
                       "worker's utilisation",
                       MetricType::Counter);
    auto purged = family("tally_subjects_purged_total",
                         "Subjects dropped after their retention, by worker", MetricType::Counter);
    auto journal_records =
        family("tally_journal_records_total", "Records appended to the journal, by worker",
               MetricType::Counter);
    auto journal_bytes = family("tally_journal_bytes_total",
                                "Bytes written to the journal, by worker", MetricType::Counter);
    auto journal_syncs =
        family("tally_journal_syncs_total",
               "fdatasync calls on the journal (group commits), by worker", MetricType::Counter);
    auto journal_errors =
        family("tally_journal_errors_total",
               "Failed journal writes, syncs or file creations (a full disk, an I/O error); while "
               "they last, acknowledgements wait",
               MetricType::Counter);
    auto journal_pending = family("tally_journal_pending_bytes",
                                  "Journal bytes buffered, not yet written (grows while the "
                                  "disk refuses writes)",
                                  MetricType::Gauge);
    auto recovered = family("tally_recovered_records",
                            "Records replayed from snapshot and journals at start, by worker",
                            MetricType::Gauge);
    std::map<std::string, double> hits_by_type;
    std::map<std::string, double> tier_changes;
    scorer::LatencyHistogram latency;
    for (const auto& shard : shards) {
      // Removed workers count in the totals only: their own series end with them.
      const bool retired = shard.worker == scorer::Engine::kRetiredWorkers;
      for (const auto& [type, count] : shard.hits_by_type)
        hits_by_type[type] += static_cast<double>(count);
      for (const auto& [tier, count] : shard.tier_changes)
        tier_changes[tier] += static_cast<double>(count);
      latency.merge(shard.latency);
      if (retired) continue;
      const std::vector<ClientMetric::Label> worker{{"worker", std::to_string(shard.worker)}};
      add(accepted, static_cast<double>(shard.accepted), worker);
      add(duplicates, static_cast<double>(shard.duplicates), worker);
      add(subjects, static_cast<double>(shard.subjects), worker);
      add(memory, static_cast<double>(shard.memory_bytes), worker);
      add(depth, static_cast<double>(shard.queue_depth), worker);
      add(busy, shard.busy_seconds, worker);
      add(purged, static_cast<double>(shard.purged_subjects), worker);
      add(journal_records, static_cast<double>(shard.journal_records), worker);
      add(journal_bytes, static_cast<double>(shard.journal_bytes), worker);
      add(journal_syncs, static_cast<double>(shard.journal_syncs), worker);
      add(journal_errors, static_cast<double>(shard.journal_errors), worker);
      add(journal_pending, static_cast<double>(shard.journal_pending_bytes), worker);
      add(recovered, static_cast<double>(shard.recovered), worker);
    }
    for (auto* moved :
         {&accepted, &duplicates, &subjects, &memory, &depth, &busy, &purged, &journal_records,
          &journal_bytes, &journal_syncs, &journal_errors, &journal_pending, &recovered}) {
      out.push_back(std::move(*moved));
    }

    auto hits =
        family("tally_rule_hits_total", "Accepted events, by event type", MetricType::Counter);
    for (const auto& [type, count] : hits_by_type) add(hits, count, {{"type", type}});
    out.push_back(std::move(hits));

    auto tiers =
        family("tally_tier_changes_total", "Subjects moving into a tier (each one raised an alert)",
               MetricType::Counter);
    for (const auto& [tier, count] : tier_changes) add(tiers, count, {{"tier", tier}});
    out.push_back(std::move(tiers));

    auto histogram = family("tally_event_latency_seconds",
                            "From receipt of an event's batch to the event applied by its worker",
                            MetricType::Histogram);
    ClientMetric metric;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < scorer::LatencyHistogram::kBounds.size(); ++i) {
      cumulative += latency.counts[i];
      metric.histogram.bucket.push_back({cumulative, scorer::LatencyHistogram::kBounds[i]});
    }
    cumulative += latency.counts.back();
    metric.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = latency.sum_seconds;
    histogram.metric.push_back(std::move(metric));
    out.push_back(std::move(histogram));
  }

  MetricsOptions options_;
  scorer::Engine& engine_;
  const IngestCounters& ingest_;
  const scorer::Autoscaler* autoscaler_;
  const AlertCounters* alerts_;
  const AuthCounters* auth_;
  const JetStreamCounters* jetstream_;
};

MetricsExporter::MetricsExporter(MetricsOptions options, scorer::Engine& engine,
                                 const IngestCounters& ingest, const scorer::Autoscaler* autoscaler,
                                 const AlertCounters* alerts, const AuthCounters* auth,
                                 const JetStreamCounters* jetstream) {
  const std::string listen = options.listen;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error(fmt::format("metrics address `{}` is not HOST:PORT", listen));
  }
  try {
    // Enough threads, and a bound on how long a connection may take to send
    // its request, that idle or slow clients cannot hold every thread (two
    // idle connections blocked a scrape for 30 s with the defaults).
    exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", listen, "num_threads", std::to_string(kHttpThreads),
        "request_timeout_ms", std::to_string(kRequestTimeout.count())});
  } catch (const std::exception& error) {
    throw std::runtime_error(
        fmt::format("cannot listen for metrics on {}: {}", listen, error.what()));
  }
  std::string auth_user = options.basic_auth_user;
  std::string auth_password = options.basic_auth_password;
  collector_ = std::make_shared<Collector>(std::move(options), engine, ingest, autoscaler, alerts,
                                           auth, jetstream);
  exposer_->RegisterCollectable(collector_);
  if (!auth_user.empty()) {
    exposer_->RegisterAuth(
        [user = std::move(auth_user), password = std::move(auth_password)](
            const std::string& given_user, const std::string& given_password) {
          // Compared in full whatever differs first: no timing hint.
          const auto same = [](const std::string& a, const std::string& b) {
            unsigned char diff = a.size() == b.size() ? 0 : 1;
            for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
              diff |=
                  static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
            }
            return diff == 0;
          };
          return same(given_user, user) & same(given_password, password);
        },
        "tally");
  }
  const auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  const std::string host = listen.substr(0, colon);
  url_ = fmt::format("http://{}:{}/metrics", host, port_);
  in_addr parsed{};
  host_ =
      host != "0.0.0.0" && ::inet_pton(AF_INET, host.c_str(), &parsed) == 1 ? host : "127.0.0.1";
}

MetricsExporter::~MetricsExporter() {
  // Stop the HTTP threads before the collector goes. The listener (civetweb)
  // looks at its stop flag only between waits for a connection of up to 2 s:
  // so that a stop never waits that out, a helper thread stops it while this
  // one knocks on its port, which ends the wait, until it is gone.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    exposer_.reset();
    stopped.store(true);
  });
  while (!stopped.load()) {
    knock(host_, port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stopper.join();
}

}  // namespace tally::monitoring
