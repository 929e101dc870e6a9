// `tally --cluster FILE`: a query sent to the cluster's nodes as the cluster
// file (client/cluster_file.h) places them.
//
// A query that names a subject (score, explain, history) goes to the nodes
// owning the subject's partition, in the file's order; one that does not
// answer within --node-timeout is passed over for the next. A node that
// answers `moved` (it does not own the partition: the file is out of date)
// is passed over for the owners its answer names, those found in the file
// first. `top` is asked of every node and the answers merged (a partition
// owner ranks only its own subjects; replicas' repeats are kept once): the
// cluster's top when every partition has a node that answered, and
// otherwise said so. Any other query (stats) goes to the first node, in the
// file's order, that answers.
//
// With --verbose, each node passed over and the node that answered are said
// on stderr ("tally: answered by node b (tcp://...)").
//
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "api/protocol.h"
#include "apps/tally/client_options.h"
#include "client/cluster_file.h"
#include "client/query_client.h"
#include "core/status.h"

namespace tally::cli {

struct RoutedAnswer {
  std::string text;  // the answer's JSON
  const client::ClusterNode* node = nullptr;
  std::unique_ptr<client::QueryClient> client;  // connected to `node`, for follow-up requests
};

// The first answer from a node that owns the request's subject (any node for
// other ops). When no node answers: kUnavailable naming each node and why.
// When every node reached answered `moved`: the last of those answers (the
// caller prints it as the refusal it is).
Result<RoutedAnswer> ask_cluster(zmq::context_t& context, const ClientOptions& options,
                                 const client::ClusterFile& cluster, const api::Request& request);

// One node's answer to `json` within --node-timeout, or why there is none.
// `kept` (may be null) gets the client, for follow-up requests.
Result<std::string> ask_node(zmq::context_t& context, const ClientOptions& options,
                             const client::ClusterNode& node, const std::string& json,
                             std::unique_ptr<client::QueryClient>* kept = nullptr);

// `top` over the cluster: every node asked, the answers merged into one
// TopAnswer (its JSON). `uncovered` gets the partitions no answering node
// owns (the merged answer leaves their subjects out). kUnavailable when no
// node answers; a node's refusal is returned as it is.
Result<std::string> ask_cluster_top(zmq::context_t& context, const ClientOptions& options,
                                    const client::ClusterFile& cluster,
                                    const api::TopRequest& request, std::string& uncovered);

}  // namespace tally::cli
