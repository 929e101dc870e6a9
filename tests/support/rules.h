// The rules files the integration tests run tallyd with. A test that needs
// a rule of its own (a two-second expiry, a broken file) writes it itself.
#pragma once

#include <string_view>

namespace tally::testing {

// The brief's example scheme on the event clock ("now" is the largest event
// time seen), so answers never depend on today's date. Scores clamp to
// [0, 100]; red_light 3 and speeding 4 count 540 days, assist_police -2
// never expires; tiers clear 0, warning 6, suspension 11.
inline constexpr std::string_view kDemeritRules = R"(
[score]
base = 0
min = 0
max = 100
clock = "event"
retain = "730d"

[rules.red_light]
points = 3
expires_after = "540d"
description = "Failure to stop at a red light"

[rules.speeding]
points = 4
expires_after = "540d"

[rules.assist_police]
points = -2

[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
[[tier]]
name = "suspension"
min = 11
)";

// Short expiries on the event clock, for history and expiry: speeding 4
// points for 30 days, red_light 3 for 60; tiers clear 0, warning 6.
inline constexpr std::string_view kShortExpiryRules = R"(
[score]
clock = "event"
[rules.speeding]
points = 4
expires_after = "30d"
[rules.red_light]
points = 3
expires_after = "60d"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "warning"
min = 6
)";

// Wall clock, nothing expires, no clamp: a subject's score is the plain sum
// of its events' points (small 1, medium 3, large 7), so an event counted
// twice or lost always shows.
inline constexpr std::string_view kPlainSumRules = R"(
[rules.small]
points = 1
[rules.medium]
points = 3
[rules.large]
points = 7
)";

}  // namespace tally::testing
