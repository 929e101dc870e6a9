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

  workers_ =
      add_query_subcommand(app, "workers", "The worker count; with N, ask for N workers",
                           "Examples:\n"
                           "  tally workers         how many now\n"
                           "  tally workers 8       ask tallyd to run 8 (every score is kept)");
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
