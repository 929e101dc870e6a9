#include "apps/tally/admin_commands.h"

#include "apps/tally/ask.h"

namespace tally::cli {

AdminCommands::AdminCommands(CLI::App& app) {
  reload_ = add_query_subcommand(
      app, "reload", "Re-read the rules file; a refused file leaves the running rules in place",
      "Exits 1, printing the file, line and reason, if the new rules are refused.\n\n"
      "Example:\n"
      "  tally reload");

  snapshot_ = add_query_subcommand(
      app, "snapshot", "Write a snapshot of every worker's state now; older journals are dropped",
      "tallyd also snapshots periodically (--snapshot-interval, --snapshot-every) and when it\n"
      "stops. Exits 1 if a worker could not write its part (the journals still hold\n"
      "everything).\n\n"
      "Example:\n"
      "  tally snapshot");

  workers_ = add_query_subcommand(
      app, "workers", "The workers, each one's load; with N, change the worker count live to N",
      "Without N: per worker, its utilisation (busy share over the last second), queue\n"
      "depth, subjects and key groups. With N: tallyd moves key groups, with their\n"
      "subjects, to N workers while ingest goes on (every score is kept; only a moving\n"
      "group's events wait); this prints progress, then the time it took and the longest\n"
      "pause any group saw. One change at a time: another while one runs is refused\n"
      "with `busy`. The count lasts until tallyd stops: put it in --workers too.\n\n"
      "Examples:\n"
      "  tally workers         the workers now\n"
      "  tally workers 4       change to 4 workers and follow the change to its end");
  workers_n_ = workers_->add_option("n", set_workers_, "The worker count to set, 1 to 4096")
                   ->check(CLI::Range(std::uint32_t{1}, api::kMaxWorkers));
}

bool AdminCommands::parsed() const {
  return reload_->parsed() || snapshot_->parsed() || workers_->parsed();
}

api::Request AdminCommands::request() const {
  if (reload_->parsed()) return api::ReloadRequest{};
  if (snapshot_->parsed()) return api::SnapshotRequest{};
  api::WorkersRequest request;
  if (workers_n_->count() > 0) request.set = set_workers_;
  return request;
}

}  // namespace tally::cli
