// `tally cluster init|rules|status`: the replicated log's stream, the rules
// it carries, and its consumers (docs/cluster.md), and `tally send --nats`: events published
// into the stream rather than to one tallyd.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/tally/client_options.h"
#include "core/partitions.h"

namespace tally::cli {

class ClusterCommand {
 public:
  // Registers `cluster` with `init` and `status` on `app`; binds their flags
  // to this object, which must outlive parsing and stay where it is.
  explicit ClusterCommand(CLI::App& app);
  ClusterCommand(const ClusterCommand&) = delete;
  ClusterCommand& operator=(const ClusterCommand&) = delete;

  bool parsed() const { return command_->parsed(); }
  // The exit code: 0 done; 1 the servers refused (or a partition got no
  // PubAck for its rules); 2 no NATS server answered or bad input; 3 the
  // rules file was refused (as `tally rules check`).
  int run(const ClientOptions& options) const;

 private:
  int init(const ClientOptions& options) const;
  int status(const ClientOptions& options) const;
  int publish_rules(const ClientOptions& options) const;

  CLI::App* command_;
  CLI::App* init_;
  CLI::App* status_;
  CLI::App* rules_command_;
  std::string nats_;
  std::string stream_ = kDefaultStream;
  std::uint32_t partitions_ = kDefaultPartitions;
  int replicas_ = 3;
  std::string max_age_ = "730d";
  std::string duplicate_window_ = "10m";
  std::string rules_;
  std::string cluster_file_;
};

// `tally send --nats URLS FILE...`: publishes into the stream, batched per
// partition; the exit code is 0 only when every event has a PubAck, 1 when
// some batch never got one, 2 when no server answered or a file is unreadable.
int send_to_jetstream(const std::vector<std::string>& files, const std::string& nats_urls,
                      const std::string& stream, std::size_t batch, const ClientOptions& options);

}  // namespace tally::cli
