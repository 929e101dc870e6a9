// What the daemon's alert publisher counts (daemon/alert_publisher.h). Its
// own header so that the metrics exporter need not see the daemon.
#pragma once

#include <atomic>
#include <cstdint>

namespace tally {

// Written by the control thread only; read by the metrics collector.
struct AlertCounters {
  std::atomic<std::uint64_t> published{0};  // alerts sent on the PUB socket
  std::atomic<std::uint64_t> restored{0};   // appended from the journals at start
  std::atomic<std::uint64_t> log_bytes{0};
  std::atomic<std::uint64_t> oldest_seq{1};
  std::atomic<std::uint64_t> next_seq{1};
  std::atomic<std::uint64_t> log_errors{0};
};

}  // namespace tally
