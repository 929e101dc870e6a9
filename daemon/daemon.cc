#include "daemon/daemon.h"

#include <fmt/format.h>

#include <optional>

#include "daemon/alert_publisher.h"
#include "daemon/control_loop.h"
#include "daemon/ingest_thread.h"
#include "daemon/rules_watcher.h"
#include "daemon/shutdown.h"
#include "daemon/snapshot_scheduler.h"
#include "daemon/startup.h"

namespace tally::daemon {

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {}

int Daemon::run(SignalWatcher& signals) {
  const std::unique_ptr<DaemonParts> parts = start_up(options_);
  scorer::Engine& engine = *parts->engine;
  IngestThread ingest =
      parts->jetstream ? IngestThread(*parts->jetstream) : IngestThread(*parts->ingest);
  AlertPublisher& alerts = *parts->alert_publisher;
  std::optional<RulesWatcher> watcher;
  if (options_.watch_rules) watcher.emplace(options_.rules_path);
  ControlLoop control(engine, parts->ingest_counters(), parts->query, alerts, std::move(watcher),
                      parts->autoscaler.get(), parts->access.get(), options_.auth_path);
  if (parts->jetstream) {
    const client::PartitionOwnersWatcher* owners = parts->owners.get();
    control.set_ownership({parts->jetstream->partitions(), parts->jetstream->options().node,
                           [owners](std::uint32_t partition) {
                             return owners != nullptr ? owners->owners_of(partition)
                                                      : std::vector<std::string>{};
                           }});
    control.refuse_reloads(fmt::format(
        "in a cluster rules change through the log: tally cluster rules --nats URLS --stream {} "
        "FILE (a reload on one node would make it differ from its replicas)",
        options_.jetstream.stream));
  }
  print_ready_lines(*parts, options_);

  std::optional<SnapshotScheduler> snapshots;
  if (options_.journal) {
    SnapshotSchedule schedule;
    schedule.interval = std::chrono::milliseconds(options_.snapshot_interval_ms);
    schedule.every_records = options_.snapshot_every_records;
    snapshots.emplace(schedule, snapshot_hooks(engine));
  }
  control.run(signals);
  shut_down(*parts, ingest, snapshots ? &*snapshots : nullptr, alerts);
  return 0;
}

}  // namespace tally::daemon
