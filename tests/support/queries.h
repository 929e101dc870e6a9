// Asking a running tallyd, and waiting for what it says to change.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "tests/support/daemon_process.h"

namespace tally::testing {

// The subject's score, now or `at` (RFC 3339, or epoch milliseconds as
// digits). Fails the test and answers -1 if the answer has no score.
std::int64_t score_of(DaemonProcess& daemon, std::string_view subject, std::string_view at = {});

// The `stats` answer's `rules_version`.
std::uint64_t rules_version_of(DaemonProcess& daemon);

// Asks `condition` until it holds or `timeout` passes, `every` apart; whether
// it held. For conditions a test cannot be told about, only observe.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(10));

}  // namespace tally::testing
