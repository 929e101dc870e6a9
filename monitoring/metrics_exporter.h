// Prometheus exposition of everything Tally counts, at GET /metrics.
//
// Nothing here runs on the hot path. Workers and the ingest thread keep plain
// per-thread counters; at scrape time a collector asks each worker for its
// ShardStats (a message through its queue, like any query) and reads the
// ingest counters, then builds the metric families. Names follow Prometheus
// conventions: `tally_` prefix, `_total` counters, seconds and bytes as
// units; labels are bounded sets (worker, reason, type, tier, result), never
// a subject.
//
// Thread-safety: the exporter's HTTP threads call into the engine through
// its dedicated kMetrics producer row; concurrent scrapes are serialised.
// Construction and destruction on one thread (the control thread); the
// destructor returns once no HTTP thread runs, within milliseconds.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/endpoints.h"
#include "core/alert_counters.h"
#include "core/auth_counters.h"
#include "core/ingest_counters.h"
#include "core/jetstream_counters.h"
#include "scorer/autoscaler.h"
#include "scorer/engine.h"

namespace prometheus {
class Exposer;
}

namespace tally::monitoring {

struct MetricsOptions {
  // HOST:PORT for the HTTP listener; port 0 picks a free port. Default from the brief.
  std::string listen = api::kDefaultMetricsAddress;
  // Reported as tally_build_info{version=...}.
  std::string version;
  // Not empty: GET /metrics requires HTTP basic authentication with this
  // user and password (--metrics-auth). Plain HTTP: over a network, put a
  // TLS proxy in front (README, "Security").
  std::string basic_auth_user;
  std::string basic_auth_password;
};

class MetricsExporter {
 public:
  // HTTP threads, and how long one waits for a connection's request: at most
  // kHttpThreads idle connections delay a scrape, by at most kRequestTimeout.
  static constexpr int kHttpThreads = 8;
  static constexpr std::chrono::milliseconds kRequestTimeout{2000};
  // Starts listening; throws std::runtime_error naming the address on failure.
  // `autoscaler` null: tallyd runs without one (its decisions count 0).
  // `alerts` null: no alert families. `auth` null: tallyd runs without --auth.
  // `jetstream` null: no consumer families (tallyd takes events over ZeroMQ).
  MetricsExporter(MetricsOptions options, scorer::Engine& engine, const IngestCounters& ingest,
                  const scorer::Autoscaler* autoscaler = nullptr,
                  const AlertCounters* alerts = nullptr, const AuthCounters* auth = nullptr,
                  const JetStreamCounters* jetstream = nullptr);
  ~MetricsExporter();

  // "http://HOST:PORT/metrics" with the port actually bound.
  const std::string& url() const noexcept { return url_; }

 private:
  class Collector;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string url_;
  std::string host_;  // where the listener can be reached: its address, or loopback
  int port_ = 0;
};

}  // namespace tally::monitoring
