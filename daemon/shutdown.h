// The shutdown sequence, on the control thread once the stop flag is set
// (SIGTERM or SIGINT):
//
//   1. the ingest thread stops taking events and answers every acknowledged
//      batch it took, once applied (and journaled); it is joined
//   2. the metrics listener closes
//   3. the snapshot scheduler stops (a periodic snapshot it is writing is
//      finished), then one last snapshot is taken, so the next start reads
//      no journal
//   4. the workers drain every queue, sync their journals, and stop
//   5. the last alerts are published
//
// Each blocking step runs on a helper thread while this one keeps publishing
// alerts: a worker blocked on a full alert queue would otherwise wait for the
// control thread, which waits for it.
#pragma once

#include "daemon/alert_publisher.h"
#include "daemon/ingest_thread.h"
#include "daemon/snapshot_scheduler.h"
#include "daemon/startup.h"

namespace tally::daemon {

// `snapshots` is null when there is no journal (nothing to snapshot).
void shut_down(DaemonParts& parts, IngestThread& ingest, SnapshotScheduler* snapshots,
               AlertPublisher& alerts);

}  // namespace tally::daemon
