// The control thread's loop: the query socket, alert publishing, and rule
// reloads asked for by a signal or by a change of the rules file.
//
// Runs on the thread that calls Daemon::run, until a stop signal. Each turn:
// publish pending alerts; once a second, sample the workers' utilisation and
// let the autoscaler (if on) start a worker-count change; reload if a reload signal came (SIGHUP)
// or the RulesWatcher saw the file change; wait up to kTurn for a request; answer every request
// ready (at most kRequestsPerTurn, so alerts never wait long). A request is one JSON object in the
// last frame; the answer goes back with the same envelope (the routing id, and a REQ client's empty
// delimiter). A query that waits on the workers publishes alerts meanwhile, so a worker is never
// stuck on a full alert queue while the control thread waits for it.
//
// Owns the query handler (scorer::QueryHandler, one QueueRow: this
// thread's). Not thread-safe: one thread runs it.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "core/ingest_counters.h"
#include "core/signal_watcher.h"
#include "daemon/alert_publisher.h"
#include "daemon/rules_watcher.h"
#include "scorer/autoscaler.h"
#include "scorer/engine.h"
#include "scorer/query_handler.h"
#include "security/access.h"
#include "security/zap_handler.h"

namespace tally::daemon {

class ControlLoop {
 public:
  // How long a turn waits for a request: the most an alert waits to be
  // published, or a stop to be noticed, while no request comes.
  static constexpr std::chrono::milliseconds kTurn{5};
  static constexpr int kRequestsPerTurn = 256;

  // How often the workers' utilisation is sampled (and the autoscaler asked).
  static constexpr std::chrono::seconds kLoadSample{1};

  // `watcher` empty: the rules file is not watched. `autoscaler` null: off.
  // `access` null: no --auth (every request allowed). With it, each request
  // is checked against its sender's roles, and a reload re-reads `auth_path`.
  ControlLoop(scorer::Engine& engine, const IngestCounters& ingest, zmq::socket_t& query,
              AlertPublisher& alerts, std::optional<RulesWatcher> watcher,
              scorer::Autoscaler* autoscaler, security::AccessRegistry* access = nullptr,
              std::string auth_path = {});

  void run(SignalWatcher& signals);

  // A cluster node owning part of the partitions answers `moved` for the
  // others' subjects (scorer::QueryHandler::Ownership).
  void set_ownership(scorer::QueryHandler::Ownership ownership) {
    handler_.set_ownership(std::move(ownership));
  }

  // In a cluster, rules change through the log alone (a reload on one node
  // would make it differ from its replicas): every reload (the `reload` op,
  // SIGHUP, --watch-rules) is then refused with rules_refused and `why`.
  // --auth is then re-read only by a restart.
  void refuse_reloads(std::string why);

 private:
  // The one place this thread blocks: true if a request is ready.
  bool wait_for_request(std::chrono::milliseconds timeout);
  void answer_ready_requests();
  void reload_rules(std::string_view why);
  // An impact runs on its own thread; its request's envelope waits here and
  // is answered the turn after it ends.
  void answer_finished_impacts();
  struct PendingImpact {
    std::vector<zmq::message_t> envelope;
    std::unique_ptr<scorer::ImpactJob> job;
  };
  std::vector<PendingImpact> impacts_;
  // Once a kLoadSample: utilisation for `tally workers`, then the autoscaler.
  void sample_load(std::chrono::steady_clock::time_point now);

  scorer::Engine& engine_;
  scorer::Autoscaler* autoscaler_;
  std::chrono::steady_clock::time_point next_sample_{};
  zmq::socket_t& query_;
  AlertPublisher& alerts_;
  std::optional<RulesWatcher> watcher_;
  scorer::QueryHandler handler_;
  security::AccessRegistry* access_;
  std::optional<security::AccessView> access_view_;
  std::vector<zmq::message_t> frames_;  // reused
};

}  // namespace tally::daemon
