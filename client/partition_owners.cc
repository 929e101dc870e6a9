#include "client/partition_owners.h"

#include <algorithm>
#include <charconv>

#include "core/nats_connection.h"

namespace tally::client {

std::optional<std::pair<std::string, std::uint32_t>> parse_consumer_name(std::string_view name) {
  constexpr std::string_view kPrefix = "tally_";
  const std::size_t mark = name.rfind("_p");
  if (!name.starts_with(kPrefix) || mark == std::string_view::npos || mark <= kPrefix.size()) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(mark + 2);
  std::uint32_t partition = 0;
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), partition);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return std::make_pair(std::string(name.substr(kPrefix.size(), mark - kPrefix.size())), partition);
}

PartitionOwners owners_from_consumers(const std::vector<ConsumerState>& consumers,
                                      std::uint32_t partitions) {
  PartitionOwners owners(partitions);
  for (const ConsumerState& consumer : consumers) {
    const auto parsed = parse_consumer_name(consumer.name);
    if (!parsed) continue;
    // The filter subject is what the consumer reads; the name only says whose it is.
    const std::int64_t partition = consumer.partition >= 0 ? consumer.partition : parsed->second;
    if (partition >= static_cast<std::int64_t>(partitions)) continue;
    owners[static_cast<std::size_t>(partition)].push_back(parsed->first);
  }
  for (std::vector<std::string>& names : owners) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  }
  return owners;
}

PartitionOwnersWatcher::PartitionOwnersWatcher(PartitionOwnersOptions options,
                                               std::uint32_t partitions)
    : options_(std::move(options)),
      partitions_(partitions),
      owners_(partitions),
      thread_([this](std::stop_token stop) { run(std::move(stop)); }) {}

PartitionOwnersWatcher::~PartitionOwnersWatcher() {
  thread_.request_stop();
  wake_.notify_all();
}

std::vector<std::string> PartitionOwnersWatcher::owners_of(std::uint32_t partition) const {
  const std::lock_guard lock(mutex_);
  return partition < owners_.size() ? owners_[partition] : std::vector<std::string>{};
}

std::uint64_t PartitionOwnersWatcher::listings() const {
  const std::lock_guard lock(mutex_);
  return listings_;
}

void PartitionOwnersWatcher::run(std::stop_token stop) {
  nats::ConnectOptions connect;
  connect.urls = options_.urls;
  connect.name = "tallyd partition owners";
  connect.timeout = options_.timeout;
  std::unique_ptr<nats::Connection> connection;
  while (!stop.stop_requested()) {
    if (!connection) {
      // Made here, not by the caller: no server yet must not hold up start-up.
      if (auto made = nats::Connection::connect(connect)) connection = std::move(made).value();
    }
    if (connection) {
      if (const auto consumers = list_consumers(*connection, options_.stream)) {
        PartitionOwners owners = owners_from_consumers(*consumers, partitions_);
        const std::lock_guard lock(mutex_);
        owners_ = std::move(owners);
        ++listings_;
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, options_.refresh, [] { return false; });
  }
}

}  // namespace tally::client
