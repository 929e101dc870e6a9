// Administration of the replicated log: making the stream (`tally cluster
// init`) and reading its consumers' positions (`tally cluster status`).
//
// The stream: subjects "<stream>.events.0" .. "<stream>.events.<P-1>" (one
// per partition, so P is read back from the stream itself), file storage,
// R replicas, kept by age (max age at least the rules' `retain`, so a node
// rebuilding from the stream sees every event that can still count), and a
// duplicate window in which a resent message id is dropped by the server.
//
// Thread-safety: plain functions over a Connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/nats_connection.h"
#include "core/partitions.h"
#include "core/status.h"

namespace tally::client {

struct StreamSpec {
  std::string stream = kDefaultStream;
  std::uint32_t partitions = kDefaultPartitions;
  // Copies of every message, on different servers (1 to 5). Default 3.
  int replicas = 3;
  // Messages older than this are dropped. Default 730 days (the rules'
  // default `retain`).
  std::chrono::seconds max_age{std::chrono::hours(24 * 730)};
  // A message id seen within this window is stored once. Default 10 minutes.
  std::chrono::seconds duplicate_window{600};
};

struct StreamState {
  bool created = false;  // false: it existed already and was left as it was
  StreamSpec spec;       // as the servers hold it
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t last_sequence = 0;
  std::string leader;                 // the server that leads the stream's Raft group
  std::vector<std::string> replicas;  // the others, with "(current)" or "(lagging)"
};

// Makes the stream, or, when one of that name exists, changes nothing and
// says what it holds. Refuses P of 0, more than 4096 or not dividing 4096,
// and replicas outside 1..5.
Result<StreamState> init_stream(const nats::Connection& connection, const StreamSpec& spec);
// What the stream holds now; kNotFound without it.
Result<StreamState> describe_stream(const nats::Connection& connection, const std::string& stream);

struct ConsumerState {
  std::string name;
  std::string filter_subject;
  std::int64_t partition = -1;   // from the filter subject; -1 if none
  std::uint64_t pending = 0;     // messages not yet delivered (the lag)
  std::int64_t ack_pending = 0;  // delivered, not yet acknowledged
  std::int64_t redelivered = 0;
  std::uint64_t acked_stream_sequence = 0;  // the ack floor
};

// Every consumer of the stream, in name order.
Result<std::vector<ConsumerState>> list_consumers(const nats::Connection& connection,
                                                  const std::string& stream);

}  // namespace tally::client
