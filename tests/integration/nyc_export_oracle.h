// An independent reading of the NYC camera export and of a rules file, for
// checking every plate's score that tallyd computes from what the adapters
// sent. Deliberately simple and separate from adapters/: CSV lines split with
// quotes handled (no line breaks inside cells, which the export never has),
// the violation text normalised with a plain loop, the 12-hour time read by
// hand, durations in days only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tally::testing {

struct NycSummons {
  std::string summons, subject, type, status;
  std::int64_t time_ms;
};

// "10/13/2020" + "02:45P" -> epoch ms (UTC).
std::int64_t nyc_time_ms(const std::string& date, const std::string& time);

// Rows with a violation and a time; `skipped` counts the others.
std::vector<NycSummons> read_nyc(const std::filesystem::path& csv, int& skipped);

struct Rule {
  std::int64_t points = 0;
  std::int64_t expires_after_ms = -1;  // -1: never
};

std::map<std::string, Rule> read_rules(const std::filesystem::path& path);

// The brief's score: base 0 + points of events with time <= at < time +
// expires_after, clamped at min 0 (camera-nyc.toml has no max).
std::map<std::string, std::int64_t> expected_scores(const std::vector<NycSummons>& rows,
                                                    const std::map<std::string, Rule>& rules,
                                                    std::int64_t at,
                                                    const std::set<std::string>& revoked = {});

}  // namespace tally::testing
