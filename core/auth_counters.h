// What tallyd's authentication handler counts (security/zap_handler.h). Its
// own header so that the metrics exporter need not see the security folder.
#pragma once

#include <atomic>
#include <cstdint>

namespace tally {

// Written by the ZAP handler's thread; read by the metrics collector.
struct AuthCounters {
  std::atomic<std::uint64_t> allowed{0};  // handshakes let in
  std::atomic<std::uint64_t> denied{
      0};  // no CURVE, an unknown key, or roles that do not open the socket
};

}  // namespace tally
