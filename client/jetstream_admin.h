// Administration of the replicated log: making the stream (`tally cluster
// init`) and reading its consumers' positions (`tally cluster status`).
//
// The stream: subjects "<stream>.events.0" .. "<stream>.events.<P-1>" (one
// per partition, so P is read back from the stream itself), file storage,
// R replicas, kept by age (max age at least the rules' `retain`, so a node
// rebuilding from the stream sees every event that can still count), and a
// duplicate window in which a resent message id is dropped by the server.
//
// Rules through the log (core/rules_message.h): publish_rules() puts a rules
// message into every partition, then into <stream>.rules; init_stream() makes
// the stream with that subject too.
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

// What publish_rules() did.
struct RulesPublished {
  std::string version;           // core/rules_message.h rules_version()
  std::uint32_t partitions = 0;  // partitions that hold the rules message now
  std::uint32_t already = 0;     // of them, acknowledged as stored before (a resend)
  bool unchanged = false;        // the log's current rules were these: nothing published
  bool subject_added = false;    // <stream>.rules was added to the stream first
};

// Publishes `toml_text` (already validated by the caller) as a rules message
// into every partition of the stream and then into <stream>.rules, each
// publish retried with the same message id until its PubAck comes or
// `retry_for` passes. The message ids are rules-<version>-<after>-p<p>, where
// <after> is the stream sequence of the log's current rules message (0 if
// none): a run that failed part-way and is run again with the same file
// completes the same publish (the server drops what it has), while a later
// return to an earlier file is a new publish. When the log's current rules
// are these already, nothing is published. A stream made before
// <stream>.rules existed gets that subject added (js_UpdateStream).
// Fails (nothing is in force until every partition has it) naming the
// partition that got no PubAck.
Result<RulesPublished> publish_rules(
    const nats::Connection& connection, const std::string& stream, std::string_view toml_text,
    std::chrono::milliseconds retry_for = std::chrono::seconds(30));

// Every consumer of the stream, in name order.
Result<std::vector<ConsumerState>> list_consumers(const nats::Connection& connection,
                                                  const std::string& stream);

}  // namespace tally::client
