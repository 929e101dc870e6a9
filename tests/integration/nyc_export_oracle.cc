#include "tests/integration/nyc_export_oracle.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "tests/support/daemon_process.h"
#include "tests/support/files.h"

namespace tally::testing {
namespace {

std::vector<std::string> split_csv(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

std::string trim_upper(std::string text) {
  const auto first = text.find_first_not_of(' ');
  const auto last = text.find_last_not_of(' ');
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string violation_type(const std::string& violation) {
  std::string out;
  bool gap = false;
  for (const char c : violation) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      if (gap && !out.empty()) out += '_';
      gap = false;
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      gap = true;
    }
  }
  return out;
}

}  // namespace

std::int64_t nyc_time_ms(const std::string& date, const std::string& time) {
  const int month = std::stoi(date.substr(0, 2)), day = std::stoi(date.substr(3, 2)),
            year = std::stoi(date.substr(6, 4));
  const int hour = std::stoi(time.substr(0, 2)) % 12 + (time[5] == 'P' ? 12 : 0);
  const int minute = std::stoi(time.substr(3, 2));
  const auto days = std::chrono::sys_days(std::chrono::year(year) / month / day);
  return (days.time_since_epoch().count() * 86400LL + hour * 3600 + minute * 60) * 1000;
}

std::vector<NycSummons> read_nyc(const std::filesystem::path& csv, int& skipped) {
  std::istringstream lines(read_file(csv));
  std::string line;
  std::getline(lines, line);
  const auto header = split_csv(line);
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  std::vector<NycSummons> rows;
  skipped = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split_csv(line);
    const std::string& violation = cells.at(column.at("Violation"));
    const std::string& time = cells.at(column.at("Violation Time"));
    if (violation.empty() || time.empty()) {
      ++skipped;
      continue;
    }
    rows.push_back({cells.at(column.at("Summons Number")),
                    "plate:" + trim_upper(cells.at(column.at("State"))) + ":" +
                        trim_upper(cells.at(column.at("Plate"))),
                    violation_type(violation), cells.at(column.at("Violation Status")),
                    nyc_time_ms(cells.at(column.at("Issue Date")), time)});
  }
  return rows;
}

std::map<std::string, Rule> read_rules(const std::filesystem::path& path) {
  const toml::table rules = toml::parse_file(path.string());
  std::map<std::string, Rule> out;
  for (const auto& [name, node] : *rules["rules"].as_table()) {
    Rule rule;
    rule.points = node.as_table()->get("points")->value<std::int64_t>().value();
    if (const auto expires = (*node.as_table())["expires_after"].value<std::string>()) {
      EXPECT_EQ(expires->back(), 'd') << "this test reads day durations only";
      rule.expires_after_ms = std::stoll(expires->substr(0, expires->size() - 1)) * 86400000LL;
    }
    out[std::string(name.str())] = rule;
  }
  return out;
}

std::map<std::string, std::int64_t> expected_scores(const std::vector<NycSummons>& rows,
                                                    const std::map<std::string, Rule>& rules,
                                                    std::int64_t at,
                                                    const std::set<std::string>& revoked) {
  std::map<std::string, std::int64_t> scores;
  for (const NycSummons& row : rows) {
    std::int64_t& score = scores[row.subject];
    if (revoked.count(row.summons) != 0) continue;
    const Rule& rule = rules.at(row.type);
    if (row.time_ms <= at &&
        (rule.expires_after_ms < 0 || at < row.time_ms + rule.expires_after_ms)) {
      score += rule.points;
    }
  }
  for (auto& [subject, score] : scores) score = std::max<std::int64_t>(score, 0);
  return scores;
}

}  // namespace tally::testing
