#include "apps/tally/rules_impact.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "apps/tally/table.h"
#include "client/query_client.h"
#include "core/event_time.h"

namespace tally::cli {
namespace {

std::string tier_label(const std::string& tier) { return tier.empty() ? "(none)" : tier; }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_matrix(const api::ImpactAnswer& answer) {
  // Rows: tiers now ("(none)" first); columns: tiers under the proposal. A
  // tier only one file has is marked.
  const std::set<std::string> now(answer.tiers_now.begin(), answer.tiers_now.end());
  const std::set<std::string> proposed(answer.tiers_proposed.begin(), answer.tiers_proposed.end());
  std::vector<std::string> rows = {""};
  rows.insert(rows.end(), answer.tiers_now.begin(), answer.tiers_now.end());
  std::vector<std::string> columns = {""};
  columns.insert(columns.end(), answer.tiers_proposed.begin(), answer.tiers_proposed.end());
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
  for (const api::ImpactTransition& t : answer.transitions) counts[{t.from, t.to}] = t.count;
  Row header = {"now \\ proposed"};
  for (const std::string& column : columns) {
    header.push_back(tier_label(column) +
                     (!column.empty() && now.count(column) == 0 ? " (new)" : ""));
  }
  std::vector<Row> table = {header};
  for (const std::string& row : rows) {
    Row line = {tier_label(row) + (!row.empty() && proposed.count(row) == 0 ? " (gone)" : "")};
    for (const std::string& column : columns) {
      const auto it = counts.find({row, column});
      line.push_back(it == counts.end() ? "." : std::to_string(it->second));
    }
    table.push_back(line);
  }
  std::vector<bool> numeric(columns.size() + 1, true);
  numeric[0] = false;
  print_table(table, numeric);
}

// The answer to one request, or the exit code to give up with.
std::optional<api::ImpactAnswer> ask_impact(client::QueryClient& client,
                                            const api::ImpactRequest& request, int& exit_code) {
  const auto text = client.request(api::to_json(api::Request(request)));
  if (!text) {
    std::fprintf(stderr, "tally: %s\n", text.status().to_string().c_str());
    exit_code = kExitNoAnswer;
    return std::nullopt;
  }
  auto answer = api::parse_answer<api::ImpactAnswer>(*text);
  if (!answer) {
    const auto code = api::error_code_of(answer.status());
    std::fprintf(stderr, "tally: %s%s\n",
                 code ? (std::string(to_string(*code)) + ": ").c_str() : "",
                 std::string(answer.status().message()).c_str());
    exit_code = kExitError;
    return std::nullopt;
  }
  return std::move(answer).value();
}

}  // namespace

void print_impact(const api::ImpactAnswer& a) {
  fmt::print("impact of {} at {}: {} subjects scored in {:.3f} s\n", a.file,
             format_rfc3339_ms(a.at_ms), a.subjects, a.seconds);
  fmt::print("  score changes: {} ({} up, {} down); tier changes: {}\n\n", a.changed_score,
             a.delta.up, a.delta.down, a.changed_tier);
  fmt::print("tiers (rows: now; columns: under the proposal; subjects):\n");
  print_matrix(a);
  fmt::print("\nscore change (proposed - now) over all subjects:\n");
  print_table(
      {{"min", "25 %", "median", "75 %", "max"},
       {std::to_string(a.delta.min), std::to_string(a.delta.p25), std::to_string(a.delta.median),
        std::to_string(a.delta.p75), std::to_string(a.delta.max)}},
      std::vector<bool>(5, true));
  if (!a.top.empty()) {
    fmt::print("\nlargest changes ({}):\n", a.top.size());
    std::vector<Row> table = {
        {"subject", "now", "tier now", "proposed", "tier proposed", "change", "moved by"}};
    for (const api::ImpactSubject& s : a.top) {
      std::string types;
      for (const std::string& type : s.types) types += (types.empty() ? "" : ", ") + type;
      table.push_back({s.subject, std::to_string(s.score_now), tier_label(s.tier_now),
                       std::to_string(s.score_proposed), tier_label(s.tier_proposed),
                       fmt::format("{:+d}", s.score_proposed - s.score_now),
                       types.empty() ? "base or clamp" : types});
    }
    print_table(table, {false, true, false, true, false, true, false});
  }
  fmt::print("\nevent types (events and points counting at {}):\n", format_rfc3339_ms(a.at_ms));
  std::vector<Row> table = {
      {"type", "events now", "events proposed", "points now", "points proposed", "note"}};
  for (const api::ImpactType& t : a.types) {
    const char* note = !t.in_proposal               ? "not in the proposal: counts 0"
                       : !t.stored && !t.in_current ? "new type; no stored event"
                       : !t.stored                  ? "no stored event"
                                                    : "";
    table.push_back({t.type, std::to_string(t.events_now), std::to_string(t.events_proposed),
                     std::to_string(t.points_now), std::to_string(t.points_proposed), note});
  }
  print_table(table, {false, true, true, true, true, false});
}

int run_impact(zmq::context_t& context, const ClientOptions& options, const ImpactOptions& impact) {
  std::ifstream in(impact.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "tally: cannot read %s\n", impact.file.c_str());
    return kExitNoAnswer;
  }
  std::stringstream text;
  text << in.rdbuf();
  api::ImpactRequest request;
  request.rules = text.str();
  request.file = impact.file;
  request.top = impact.top;
  if (!impact.at.empty()) {
    request.at_ms = parse_rfc3339_ms(impact.at);
    if (!request.at_ms) {
      std::fprintf(stderr, "tally: --at `%s`: expected an RFC 3339 time\n", impact.at.c_str());
      return kExitNoAnswer;
    }
  }
  client::QueryClient client(context, options.query_endpoint,
                             std::max(options.timeout(), to_ms(impact.wait_s)), options.curve);
  int exit_code = kExitDone;
  const auto summary = ask_impact(client, request, exit_code);
  if (!summary) return exit_code;
  if (options.json) {
    fmt::print("{}\n", api::to_json(*summary));
  } else {
    print_impact(*summary);
  }
  if (impact.csv.empty()) return kExitDone;

  // The rows in pages of key groups, each page one more pass at the same
  // instant: about 200,000 rows a page.
  std::ofstream csv(impact.csv, std::ios::binary | std::ios::trunc);
  if (!csv) {
    std::fprintf(stderr, "tally: cannot write %s\n", impact.csv.c_str());
    return kExitNoAnswer;
  }
  csv << "subject,score_now,score_proposed,tier_now,tier_proposed\n";
  const std::uint64_t changed = summary->changed_score + summary->changed_tier;  // at most
  const std::uint64_t pages = std::clamp<std::uint64_t>((changed + 199'999) / 200'000, 1, 64);
  request.at_ms = summary->at_ms;
  request.top = 1;
  std::uint64_t written = 0;
  for (std::uint64_t page = 0; page < pages && changed > 0; ++page) {
    request.rows = std::make_pair(static_cast<std::uint32_t>(page * kKeyGroups / pages),
                                  static_cast<std::uint32_t>((page + 1) * kKeyGroups / pages));
    const auto part = ask_impact(client, request, exit_code);
    if (!part) return exit_code;
    for (const api::ImpactRow& row : *part->rows) {
      csv << csv_field(row.subject) << ',' << row.score_now << ',' << row.score_proposed << ','
          << csv_field(row.tier_now) << ',' << csv_field(row.tier_proposed) << '\n';
      ++written;
    }
    if (!options.json && pages > 1) {
      std::fprintf(
          stderr, "csv: page %llu of %llu, %llu rows\n", static_cast<unsigned long long>(page + 1),
          static_cast<unsigned long long>(pages), static_cast<unsigned long long>(written));
    }
  }
  if (!csv.flush()) {
    std::fprintf(stderr, "tally: cannot write %s\n", impact.csv.c_str());
    return kExitNoAnswer;
  }
  if (!options.json) fmt::print("\nwrote {}: {} changed subjects\n", impact.csv, written);
  return kExitDone;
}

}  // namespace tally::cli
