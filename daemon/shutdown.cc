#include "daemon/shutdown.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace tally::daemon {
namespace {

// Runs `step` on a helper thread; publishes alerts until it is done.
void publish_alerts_during(AlertPublisher& alerts, const std::function<void()>& step) {
  std::atomic<bool> done{false};
  std::thread runner([&] {
    step();
    done.store(true);
  });
  while (!done.load()) {
    alerts.publish_pending();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  runner.join();
}

}  // namespace

void shut_down(DaemonParts& parts, IngestThread& ingest, SnapshotScheduler* snapshots,
               AlertPublisher& alerts) {
  spdlog::info("stopping: no new events; draining queues");
  // A worker-count change needs the ingest thread to apply its waves: end
  // it (at the next safe point) first.
  publish_alerts_during(alerts, [&] { parts.engine->stop_rescale(); });
  publish_alerts_during(alerts, [&] { ingest.stop_and_join(); });
  parts.metrics.reset();
  if (snapshots != nullptr) {
    publish_alerts_during(alerts, [&] { snapshots->stop(); });
    publish_alerts_during(alerts, [&] { snapshot_and_log(*parts.engine, "at stop"); });
  }
  publish_alerts_during(alerts, [&] { parts.engine->stop(); });
  ingest.record_late_refusals();
  alerts.publish_pending();
  spdlog::info("stopped");
}

}  // namespace tally::daemon
