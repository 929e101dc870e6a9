// `tally --cluster FILE`: a query sent to the cluster's nodes as the cluster
// file (client/cluster_file.h) places them.
//
// A query that names a subject (score, explain, history) goes to the nodes
// owning the subject's partition, in the file's order; one that does not
// answer within --node-timeout is passed over for the next. A node that
// answers `moved` (it does not own the partition: the file is out of date)
// is passed over for the owners its answer names, those found in the file
// first. Any other query (top, stats) goes to the first node, in the file's
// order, that answers: a partition owner's `top` ranks its own subjects
// only, so on a cluster whose nodes all own part of the stream it is that
// node's top, not the cluster's.
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

}  // namespace tally::cli
