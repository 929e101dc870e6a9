// Who owns which partition of the replicated log, learnt from the stream's
// consumers: every tallyd node has one durable consumer per partition it
// owns, named tally_<node>_p<partition> (stream/jetstream_source.h), so the
// list of consumers is the list of owners. A cluster node names them in its
// `moved` answers (scorer/query_handler.h).
//
// A consumer outlives its node (it is durable): a stopped node is still
// named as an owner until an operator deletes its consumers, so a client
// that follows a `moved` answer must fail over between the owners named.
// Node names are as the consumers carry them: a character a consumer name
// cannot hold (anything but letters, digits, '-' and '_') is a '-'.
//
// PartitionOwnersWatcher: its own NATS connection and thread, listing the
// consumers every `refresh`, off the ingest path; a failed listing keeps the
// last owners known (and tries again at the next refresh).
//
// Thread-safety: owners_from_consumers is pure; a watcher's owners_of may be
// called from any thread while it runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client/jetstream_admin.h"
#include "core/partitions.h"

namespace tally::client {

struct PartitionOwnersOptions {
  // NATS servers. At least one.
  std::vector<std::string> urls;
  // The stream made by `tally cluster init`. Default "TALLY".
  std::string stream = kDefaultStream;
  // How often the consumers are listed. Default 3 s: a node started with
  // new partitions is named within that.
  std::chrono::milliseconds refresh{3000};
  // Longest a connection or a listing may take. Default 2 s.
  std::chrono::milliseconds timeout{2000};
};

// Node names by partition, each list sorted and without repeats.
using PartitionOwners = std::vector<std::vector<std::string>>;

// "tally_<node>_p<partition>" -> {node, partition}; nullopt for any other name.
std::optional<std::pair<std::string, std::uint32_t>> parse_consumer_name(std::string_view name);

// The owners of each of `partitions` partitions, from the stream's
// consumers; names that are not a node's consumer, and partitions out of
// range, are left out.
PartitionOwners owners_from_consumers(const std::vector<ConsumerState>& consumers,
                                      std::uint32_t partitions);

class PartitionOwnersWatcher {
 public:
  // Starts the thread; the first listing runs at once (no owner is known
  // before it ends). Never fails: no server yet means no owners yet.
  PartitionOwnersWatcher(PartitionOwnersOptions options, std::uint32_t partitions);
  // Stops the thread (waiting at most for a listing under way).
  ~PartitionOwnersWatcher();
  PartitionOwnersWatcher(const PartitionOwnersWatcher&) = delete;
  PartitionOwnersWatcher& operator=(const PartitionOwnersWatcher&) = delete;

  // The nodes owning `partition`, as last listed (empty: none known).
  std::vector<std::string> owners_of(std::uint32_t partition) const;
  // How many listings succeeded so far.
  std::uint64_t listings() const;

 private:
  void run(std::stop_token stop);

  const PartitionOwnersOptions options_;
  const std::uint32_t partitions_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  PartitionOwners owners_;  // guarded by mutex_
  std::uint64_t listings_ = 0;
  std::jthread thread_;  // last: it starts once the rest is ready
};

}  // namespace tally::client
