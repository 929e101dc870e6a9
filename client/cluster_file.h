// The cluster file (cluster.toml): a client's map of a cluster on the
// replicated log, where each node answers queries and which partitions it
// owns, so that `tally --cluster FILE` can send a subject's query to a node
// that owns it and fail over to the next (docs/cluster.md).
//
//   partitions = 8                     # the stream's partition count (required)
//
//   [[node]]                           # one table per node, in the order to ask them
//   name = "a"                         # its --node (letters, digits, '-', '_'; unique)
//   query = "tcp://10.0.0.1:7003"      # its --query-bind, as clients reach it (required)
//   alerts = "tcp://10.0.0.1:7004"     # its --alerts-bind (optional)
//   server_key = "a.pub"               # tallyd --auth: its public key, or its .pub file
//                                      # (relative to this file); optional
//   partitions = "all"                 # "all" or a set such as "0-31,40" (default "all")
//
// Refused, with FILE:LINE:COLUMN: not TOML; an unknown key; a partition
// count outside 1..4096 or not dividing 4096 (as `tally cluster init`); no
// node; a node without a name or a query endpoint, a repeated name, a name a
// consumer cannot carry, a bad partition set; a partition no node owns.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/partitions.h"
#include "core/status.h"

namespace tally::client {

struct ClusterNode {
  std::string name;             // the node's --node, as its `moved` answers name it
  std::string query_endpoint;   // where it answers queries
  std::string alerts_endpoint;  // "" when not given
  std::string server_key;       // a key or a .pub file's path; "" when not given
  PartitionSet partitions;      // what it owns
};

struct ClusterFile {
  std::string path;  // as given, for messages
  std::uint32_t partitions = 0;
  std::vector<ClusterNode> nodes;  // in the file's order

  // Reads and checks the file.
  static Result<ClusterFile> load(const std::string& path);
  // The same from text; `path` names it in errors and anchors relative key files.
  static Result<ClusterFile> parse(std::string_view text, const std::string& path);

  // The nodes owning the subject's partition, in the file's order.
  std::vector<const ClusterNode*> owners_of(std::string_view subject) const;
  // nullptr when no node has that name.
  const ClusterNode* node_named(std::string_view name) const;
};

}  // namespace tally::client
