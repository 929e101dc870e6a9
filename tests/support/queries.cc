#include "tests/support/queries.h"

#include <gtest/gtest.h>

#include <thread>

namespace tally::testing {

std::int64_t score_of(DaemonProcess& daemon, std::string_view subject, std::string_view at) {
  const std::string answer = daemon.ask(score_request(subject, at));
  simdjson::dom::parser parser;
  std::int64_t score = -1;
  EXPECT_EQ(parse_json(parser, answer)["score"].get_int64().get(score), simdjson::SUCCESS)
      << answer;
  return score;
}

std::uint64_t rules_version_of(DaemonProcess& daemon) {
  const std::string answer = daemon.ask(R"({"op":"stats"})");
  simdjson::dom::parser parser;
  std::uint64_t version = 0;
  EXPECT_EQ(parse_json(parser, answer)["rules_version"].get_uint64().get(version),
            simdjson::SUCCESS)
      << answer;
  return version;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace tally::testing
