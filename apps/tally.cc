// tally: the command-line client. Parses flags, builds query API requests,
// and prints answers for people (or as they are, with --json); the talking is
// the adapters library's (QueryClient, Publisher).
//
// Exit codes: 0 done; 1 tallyd answered with an error (or `send --ack`: some
// batch was never acknowledged); 2 no answer / no connection, or bad input;
// 3 `rules check`: the rules file was refused.
#include <fcntl.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "adapters/line_reader.h"
#include "adapters/publisher.h"
#include "adapters/query_client.h"
#include "scorer/rules.h"
#include "stream/event_time.h"
#include "stream/json_text.h"

namespace {

using tally::adapters::PublisherOptions;
using tally::adapters::PublishSummary;
using tally::adapters::QueryClient;
using JsonResult = simdjson::simdjson_result<simdjson::dom::element>;

constexpr int kExitError = 1;         // tallyd said no, or not everything was acknowledged
constexpr int kExitNoAnswer = 2;      // no daemon, or bad input
constexpr int kExitRulesRefused = 3;  // `rules check`: the file breaks the rules format

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::string json_quoted(std::string_view text) {
  std::string out;
  tally::stream::append_json_string(out, text);
  return out;
}

// A time given on the command line: digits are epoch milliseconds, sent as a
// JSON integer; anything else is sent as a string (tallyd checks RFC 3339).
std::string time_value(const std::string& text) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? text : json_quoted(text);
}

// ---- Reading answers --------------------------------------------------------

// A value as text for people: strings as they are, numbers as numbers, null
// as `null_text`, absent as "-".
std::string text_of(JsonResult value, std::string_view null_text = "-") {
  simdjson::dom::element element;
  if (value.get(element) != simdjson::SUCCESS) return "-";
  switch (element.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(element.get_string().value_unsafe());
    case simdjson::dom::element_type::INT64:
      return std::to_string(element.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
      return std::to_string(element.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return fmt::format("{:g}", element.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      return element.get_bool().value_unsafe() ? "true" : "false";
    case simdjson::dom::element_type::NULL_VALUE:
      return std::string(null_text);
    default:
      return simdjson::minify(element);
  }
}

double number_or(JsonResult value, double fallback) {
  double number = 0;
  return value.get_double().get(number) == simdjson::SUCCESS ? number : fallback;
}

simdjson::dom::array array_of(JsonResult value) {
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return {};
  return array;
}

// Rows as columns two spaces apart, the first row a header; `numeric`
// columns are right-aligned.
using Row = std::vector<std::string>;
void print_table(const std::vector<Row>& rows, const std::vector<bool>& numeric) {
  std::vector<std::size_t> width(numeric.size(), 0);
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const Row& row : rows) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      const bool last = c + 1 == row.size();
      line += ' ';
      if (numeric[c]) {
        line += fmt::format("{:>{}}", row[c], width[c]);
      } else {
        line += last ? row[c] : fmt::format("{:<{}}", row[c], width[c]);
      }
      if (!last) line += ' ';
    }
    fmt::print("{}\n", line);
  }
}

void print_contributions(std::string_view title, simdjson::dom::array list, bool revoked) {
  if (list.size() == 0) return;
  std::vector<Row> rows;
  rows.push_back({"id", "type", "points", "time", "expires", "source"});
  if (revoked) {
    rows[0].insert(rows[0].end(), {"revoked by", "revoke source", "revoked at", "reason"});
  }
  for (auto c : list) {
    Row row = {text_of(c["id"]),
               text_of(c["type"]),
               text_of(c["points"]),
               text_of(c["time"]),
               text_of(c["expires"], "never"),
               text_of(c["source"])};
    if (revoked) {
      row.insert(row.end(), {text_of(c["revoked_by"]), text_of(c["revoke_source"]),
                             text_of(c["revoked_at"]), text_of(c["revoke_reason"])});
    }
    rows.push_back(std::move(row));
  }
  fmt::print("{} ({}):\n", title, list.size());
  print_table(rows, {false, false, true, false, false, false, false, false, false, false});
}

void print_score(simdjson::dom::element answer) {
  fmt::print("{}  score {}  tier {}  events {}  (at {})\n", text_of(answer["subject"]),
             text_of(answer["score"]), text_of(answer["tier"]), text_of(answer["events"]),
             text_of(answer["at"]));
}

void print_explain(simdjson::dom::element answer) {
  print_score(answer);
  const auto counting = array_of(answer["contributions"]);
  const auto inactive = array_of(answer["inactive"]);
  const auto revoked = array_of(answer["revoked"]);
  const auto pending = array_of(answer["pending_revokes"]);
  if (counting.size() + inactive.size() + revoked.size() + pending.size() == 0) {
    fmt::print("no events\n");
    return;
  }
  print_contributions("counting now", counting, false);
  print_contributions("not counting now (expired, or not yet in force)", inactive, false);
  print_contributions("revoked", revoked, true);
  if (pending.size() > 0) {
    std::vector<Row> rows = {{"id", "revokes", "time", "source", "reason"}};
    for (auto p : pending) {
      rows.push_back({text_of(p["id"]), text_of(p["revokes"]), text_of(p["time"]),
                      text_of(p["source"]), text_of(p["reason"])});
    }
    fmt::print("revokes waiting for their event ({}):\n", pending.size());
    print_table(rows, {false, false, false, false, false});
  }
}

void print_history(simdjson::dom::element answer) {
  print_score(answer);
  const auto timeline = array_of(answer["timeline"]);
  if (timeline.size() == 0) {
    fmt::print("no events\n");
    return;
  }
  std::vector<Row> rows = {{"time", "what", "detail", "score"}};
  for (auto entry : timeline) {
    const std::string what = text_of(entry["what"]);
    std::string detail;
    if (what == "accepted") {
      detail = fmt::format("{} {} {:+} (rules v{}, source {}){}", text_of(entry["id"]),
                           text_of(entry["type"]), number_or(entry["points"], 0),
                           text_of(entry["rules_version"]), text_of(entry["source"]),
                           text_of(entry["revoked"]) == "true" ? ", later revoked" : "");
    } else if (what == "expired" || what == "expires") {
      detail = fmt::format("{} {:+}", text_of(entry["id"]), number_or(entry["points"], 0));
    } else if (what == "revoked") {
      detail = fmt::format("{} by {} (source {}): {}", text_of(entry["id"]), text_of(entry["by"]),
                           text_of(entry["source"]), text_of(entry["reason"]));
    } else if (what == "revoke_pending") {
      detail = fmt::format("{} revokes {}, not seen yet (source {}): {}", text_of(entry["id"]),
                           text_of(entry["revokes"]), text_of(entry["source"]),
                           text_of(entry["reason"]));
    } else if (what == "tier") {
      const auto tier_name = [](std::string name) { return name.empty() ? "(none)" : name; };
      detail = fmt::format(
          "{} -> {} ({} {})", tier_name(text_of(entry["from"])), tier_name(text_of(entry["to"])),
          text_of(entry["by_expiry"]) == "true" ? "expiry of" : "event", text_of(entry["cause"]));
    }
    rows.push_back({text_of(entry["time"]), what, detail, text_of(entry["score"], "")});
  }
  print_table(rows, {false, false, false, true});
}

void print_top(simdjson::dom::element answer) {
  const auto subjects = array_of(answer["subjects"]);
  if (subjects.size() == 0) {
    fmt::print("no subjects yet\n");
    return;
  }
  std::size_t width = 0;
  for (auto s : subjects) width = std::max(width, text_of(s["subject"]).size());
  fmt::print("{} scores (at {}):\n", text_of(answer["order"]), text_of(answer["at"]));
  int rank = 0;
  for (auto s : subjects) {
    fmt::print("{:>4}. {:<{}}  {:>8}  {}\n", ++rank, text_of(s["subject"]), width,
               text_of(s["score"]), text_of(s["tier"]));
  }
}

void print_stats(simdjson::dom::element answer) {
  std::vector<Row> rows;
  for (const char* field :
       {"received", "accepted", "duplicates", "rejected_total", "subjects", "rules_version"}) {
    if (answer[field].error() != simdjson::SUCCESS) continue;
    const bool rejected = std::strcmp(field, "rejected_total") == 0;
    rows.push_back({rejected ? "rejected" : field, text_of(answer[field])});
    simdjson::dom::object reasons;
    if (rejected && answer["rejected"].get_object().get(reasons) == simdjson::SUCCESS) {
      for (auto [reason, count] : reasons) {  // the reasons that happened
        const std::string value = text_of(JsonResult(simdjson::dom::element(count)));
        if (value != "0") rows.push_back({fmt::format("  {}", reason), value});
      }
    }
  }
  print_table(rows, {false, true});
  const auto workers = array_of(answer["workers"]);
  if (workers.size() == 0) return;
  std::vector<Row> table = {
      {"worker", "accepted", "duplicates", "subjects", "queue", "busy s", "memory MiB"}};
  for (auto w : workers) {
    double memory = 0;
    std::uint64_t bytes = 0;
    if (w["memory_bytes"].get_uint64().get(bytes) == simdjson::SUCCESS) {
      memory = static_cast<double>(bytes) / (1 << 20);
    }
    table.push_back({text_of(w["worker"]), text_of(w["accepted"]), text_of(w["duplicates"]),
                     text_of(w["subjects"]), text_of(w["queue_depth"]),
                     fmt::format("{:.3f}", number_or(w["busy_seconds"], 0)),
                     fmt::format("{:.1f}", memory)});
  }
  fmt::print("workers ({}):\n", workers.size());
  print_table(table, std::vector<bool>(7, true));
}

// Prints an answer; returns the exit code.
int print_answer(const std::string& op, const std::string& text, bool raw) {
  simdjson::dom::parser parser;
  simdjson::dom::element answer;
  if (parser.parse(text).get(answer) != simdjson::SUCCESS || !answer.is_object()) {
    std::fprintf(stderr, "tally: tallyd answered something that is not a JSON object: %s\n",
                 text.c_str());
    return kExitError;
  }
  const bool refused = answer["error"].error() == simdjson::SUCCESS;
  if (raw) {
    fmt::print("{}\n", text);
    return refused ? kExitError : 0;
  }
  if (refused) {
    const std::string code = text_of(answer["error"]["code"]);
    const std::string message = text_of(answer["error"]["message"]);
    if (op == "reload") {
      std::fprintf(stderr, "tally: reload refused (%s), running rules kept: %s\n", code.c_str(),
                   message.c_str());
    } else {
      std::fprintf(stderr, "tally: %s: %s\n", code.c_str(), message.c_str());
    }
    return kExitError;
  }
  if (op == "score") {
    print_score(answer);
  } else if (op == "history") {
    print_history(answer);
  } else if (op == "explain") {
    print_explain(answer);
  } else if (op == "top") {
    print_top(answer);
  } else if (op == "stats") {
    print_stats(answer);
  } else if (op == "reload") {
    fmt::print("reloaded {}: rules version {}, {} rules\n", text_of(answer["file"]),
               text_of(answer["version"]), text_of(answer["rules"]));
  } else if (op == "workers") {
    fmt::print("{} workers\n", text_of(answer["workers"]));
  } else if (op == "snapshot") {
    fmt::print("snapshot {}: {} records, {} bytes in {} s (longest worker pause {} s)\n",
               text_of(answer["snapshot"]), text_of(answer["records"]), text_of(answer["bytes"]),
               text_of(answer["seconds"]), text_of(answer["longest_pause_seconds"]));
  } else {
    fmt::print("{}\n", text);
  }
  return 0;
}

// ---- tally rules check -------------------------------------------------------

std::string bound_text(std::int64_t value) {
  return value == std::numeric_limits<std::int64_t>::min() ||
                 value == std::numeric_limits<std::int64_t>::max()
             ? "none"
             : std::to_string(value);
}

// A rule set for people: every rule (file order), the score settings, and the
// tiers with the range of scores each one covers.
void print_rule_set(const tally::scorer::RuleSet& rules) {
  using tally::scorer::Clock;
  const auto& config = rules.score();
  fmt::print("{}: valid, {} rules, {} tiers\n\n", rules.source(), rules.rules().size(),
             rules.tiers().size());

  std::vector<Row> table = {{"rule", "points", "expires", "description"}};
  for (const tally::scorer::Rule& rule : rules.rules()) {
    table.push_back({rule.name, std::to_string(rule.points),
                     rule.expires_after_ms > 0
                         ? tally::scorer::format_duration(rule.expires_after_ms)
                         : "never",
                     rule.description.empty() ? "-" : rule.description});
  }
  fmt::print("rules ({}):\n", rules.rules().size());
  print_table(table, {false, true, false, false});

  fmt::print("\nscore:\n");
  print_table(
      {{"base", std::to_string(config.base)},
       {"clamp", fmt::format("min {}, max {}", bound_text(config.min), bound_text(config.max))},
       {"clock", config.clock == Clock::kEvent ? "event (now is the largest event time seen)"
                                               : "wall (now is the wall clock)"},
       {"retain", tally::scorer::format_duration(config.retain_ms) +
                      " (expired points and seen ids kept this long)"}},
      {false, false});

  const auto& tiers = rules.tiers();
  fmt::print("\ntiers ({}; a subject's tier is the one with the largest min <= its score):\n",
             tiers.size());
  if (tiers.empty()) {
    fmt::print("  none: every subject's tier is \"\"\n");
    return;
  }
  std::vector<Row> tier_rows = {{"tier", "min", "scores"}};
  if (config.min < tiers.front().min) {
    tier_rows.push_back({"\"\"", "-", fmt::format("below {}", tiers.front().min)});
  }
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const std::int64_t from = std::max(tiers[i].min, config.min);
    const std::int64_t to =
        i + 1 < tiers.size() ? std::min(tiers[i + 1].min - 1, config.max) : config.max;
    std::string scores;
    if (from > config.max) {
      scores = "unreachable (above the clamp's max)";
    } else if (to == std::numeric_limits<std::int64_t>::max()) {
      scores = fmt::format("{} and above", from);
    } else if (to < from) {
      scores = "unreachable (below the clamp's min)";
    } else {
      scores = from == to ? std::to_string(from) : fmt::format("{} to {}", from, to);
    }
    tier_rows.push_back({tiers[i].name, std::to_string(tiers[i].min), std::move(scores)});
  }
  print_table(tier_rows, {false, true, false});
}

// Loads a rules file as tallyd would and prints it; on refusal prints
// FILE:LINE:COLUMN: REASON to stderr. Returns the exit code.
int check_rules(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    std::fprintf(stderr, "tally: cannot read %s: %s\n", path.c_str(),
                 error ? error.message().c_str()
                       : (std::filesystem::exists(path) ? "not a regular file" : "no such file"));
    return kExitNoAnswer;
  }
  const auto result = tally::scorer::load_rules_file(path, 1);
  if (const auto* refused = std::get_if<tally::scorer::RulesError>(&result)) {
    std::fprintf(stderr, "%s\n", refused->to_string().c_str());
    return kExitRulesRefused;
  }
  print_rule_set(*std::get<std::shared_ptr<const tally::scorer::RuleSet>>(result));
  return 0;
}

// ---- tally send --------------------------------------------------------------

struct SendSettings {
  std::vector<std::string> files;
  bool ack = false;
  std::size_t batch = 1000;
  double ack_timeout_s = 2;
  int attempts = 10;
};

// Where the publisher's input line numbers (one count over every file) came from.
struct InputFile {
  std::string name;
  std::uint64_t first_line = 0;  // publisher input line of its line 1
};

std::string where(const std::vector<InputFile>& inputs, std::uint64_t input_line) {
  auto file = inputs.begin();
  for (auto it = inputs.begin(); it != inputs.end() && it->first_line <= input_line; ++it)
    file = it;
  return fmt::format("{}:{}", file->name == "-" ? "<stdin>" : file->name,
                     input_line - file->first_line + 1);
}

void print_send_json(const PublishSummary& s, const std::string& endpoint, bool ack,
                     const std::vector<InputFile>& inputs) {
  std::string out = "{\"endpoint\":" + json_quoted(endpoint);
  out += fmt::format(",\"acknowledged\":{},\"events\":{},\"sent\":{},\"batches\":{}", ack, s.events,
                     s.events_sent, s.batches);
  if (ack) {
    out += fmt::format(",\"accepted\":{},\"duplicates\":{},\"rejected_total\":{},\"rejected\":{{",
                       s.accepted, s.duplicates, s.rejected_total());
    bool first = true;
    for (const auto& [reason, count] : s.rejected) {
      out += fmt::format("{}{}:{}", first ? "" : ",", json_quoted(reason), count);
      first = false;
    }
    out += "},\"rejected_lines\":[";
    for (std::size_t i = 0; i < s.rejected_lines.size(); ++i) {
      out += fmt::format("{}{{\"at\":{},\"reason\":{}}}", i > 0 ? "," : "",
                         json_quoted(where(inputs, s.rejected_lines[i].input_line)),
                         json_quoted(s.rejected_lines[i].reason));
    }
    out +=
        fmt::format("],\"resends\":{},\"unacknowledged_batches\":{},\"unacknowledged_events\":{}",
                    s.resends, s.unacknowledged_batches, s.unacknowledged_events);
  }
  if (!s.failure.empty()) out += ",\"failure\":" + json_quoted(s.failure);
  out += "}";
  fmt::print("{}\n", out);
}

void print_send_summary(const PublishSummary& s, const std::string& endpoint, bool ack,
                        const std::vector<InputFile>& inputs) {
  if (s.events_sent == s.events) {
    fmt::print("sent {} events in {} {} to {}\n", s.events, s.batches,
               s.batches == 1 ? "batch" : "batches", endpoint);
  } else {
    fmt::print("sent {} of {} events to {}\n", s.events_sent, s.events, endpoint);
  }
  if (!ack) {
    fmt::print("fire-and-forget: tallyd does not answer; `tally stats` shows what it took\n");
    return;
  }
  fmt::print("accepted {}, duplicates {}, rejected {}, resends {}\n", s.accepted, s.duplicates,
             s.rejected_total(), s.resends);
  for (const auto& [reason, count] : s.rejected) fmt::print("  rejected {}: {}\n", reason, count);
  constexpr std::size_t kShown = 20;
  for (std::size_t i = 0; i < s.rejected_lines.size() && i < kShown; ++i) {
    fmt::print("  {}: {}\n", where(inputs, s.rejected_lines[i].input_line),
               s.rejected_lines[i].reason);
  }
  if (s.rejected_total() > kShown) {
    fmt::print("  (the first {} shown; tallyd's rejected.ndjson has every one)\n", kShown);
  }
}

int send(zmq::context_t& context, const SendSettings& settings, const std::string& endpoint,
         double timeout_s, bool raw) {
  PublisherOptions options;
  options.endpoint = endpoint;
  options.acknowledged = settings.ack;
  options.batch_max_events = settings.batch;
  options.ack_timeout = to_ms(settings.ack_timeout_s);
  options.max_attempts = settings.attempts;
  options.send_timeout = to_ms(timeout_s);
  tally::adapters::Publisher publisher(context, options);

  std::vector<InputFile> inputs;
  std::uint64_t lines = 0;
  for (const std::string& name : settings.files) {
    const int fd = name == "-" ? STDIN_FILENO : ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "tally: cannot read %s: %s\n", name.c_str(), std::strerror(errno));
      return kExitNoAnswer;
    }
    inputs.push_back({name, lines + 1});
    tally::adapters::LineReader reader(fd);
    bool sending = true;
    while (const auto line = reader.next()) {
      ++lines;
      if (!publisher.add(*line)) {
        sending = false;
        break;
      }
    }
    const int error = reader.error();
    if (fd != STDIN_FILENO) ::close(fd);
    if (error != 0) {
      std::fprintf(stderr, "tally: cannot read %s: %s\n", name.c_str(), std::strerror(error));
      return kExitNoAnswer;
    }
    if (!sending) break;
  }
  const PublishSummary summary = publisher.finish();
  if (raw) {
    print_send_json(summary, endpoint, settings.ack, inputs);
  } else {
    print_send_summary(summary, endpoint, settings.ack, inputs);
  }
  if (!summary.failure.empty()) {
    std::fprintf(stderr, "tally: %s\n", summary.failure.c_str());
    return kExitNoAnswer;
  }
  if (!summary.complete()) {
    std::fprintf(stderr,
                 "tally: %llu batches (%llu events) were never acknowledged; sending them again "
                 "is safe\n",
                 static_cast<unsigned long long>(summary.unacknowledged_batches),
                 static_cast<unsigned long long>(summary.unacknowledged_events));
    return kExitError;
  }
  return 0;
}

// ---- tally revoke ------------------------------------------------------------

struct RevokeSettings {
  std::string subject;
  std::string event_id;
  std::string reason;
  std::string source = "appeals";
  std::string id;    // default: revoke:<event id>
  std::string time;  // default: now
};

// The appeal path: one `revoke` event on the acknowledged socket. Its id
// defaults to `revoke:<EVENT_ID>`, so sending the same appeal twice records it
// once (the second answer is a duplicate).
int revoke(zmq::context_t& context, const RevokeSettings& settings, const std::string& endpoint,
           double timeout_s, bool raw) {
  const std::string id = settings.id.empty() ? "revoke:" + settings.event_id : settings.id;
  std::string time = settings.time;
  if (time.empty()) {
    time = tally::stream::format_rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  }
  std::string line =
      fmt::format(R"({{"id":{},"subject":{},"type":"revoke","revokes":{},"time":{},"source":{},)"
                  R"("attrs":{{"reason":{}}}}})",
                  json_quoted(id), json_quoted(settings.subject), json_quoted(settings.event_id),
                  time_value(time), json_quoted(settings.source), json_quoted(settings.reason));
  PublisherOptions options;
  options.endpoint = endpoint;
  options.acknowledged = true;
  options.ack_timeout = to_ms(std::min(timeout_s, 2.0));
  options.max_attempts = std::max(1, static_cast<int>(timeout_s / 2.0) + 1);
  options.send_timeout = to_ms(timeout_s);
  tally::adapters::Publisher publisher(context, options);
  publisher.add(line);
  const PublishSummary summary = publisher.finish();
  if (!summary.complete()) {
    std::fprintf(stderr, "tally: the revoke was not acknowledged%s%s; sending it again is safe\n",
                 summary.failure.empty() ? "" : ": ", summary.failure.c_str());
    return kExitNoAnswer;
  }
  const char* outcome = summary.accepted > 0     ? "accepted"
                        : summary.duplicates > 0 ? "duplicate"
                                                 : "rejected";
  std::string rejection;
  if (!summary.rejected_lines.empty()) rejection = summary.rejected_lines.front().reason;
  if (raw) {
    fmt::print(R"({{"id":{},"subject":{},"revokes":{},"outcome":"{}"{}}})"
               "\n",
               json_quoted(id), json_quoted(settings.subject), json_quoted(settings.event_id),
               outcome, rejection.empty() ? "" : ",\"reason\":" + json_quoted(rejection));
  } else if (summary.accepted > 0) {
    fmt::print("revoked {} of {} (revoke {}, source {}): {}\n", settings.event_id, settings.subject,
               id, settings.source, settings.reason);
  } else if (summary.duplicates > 0) {
    fmt::print("already recorded: revoke {} was sent before; nothing changed\n", id);
  } else {
    std::fprintf(stderr, "tally: the revoke was rejected: %s\n", rejection.c_str());
  }
  return summary.accepted + summary.duplicates > 0 ? 0 : kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tally - the client for tallyd: ask for scores and the events behind them, administer the "
      "daemon, "
      "send events.",
      "tally"};
  app.require_subcommand(1);
  std::string query_endpoint = "tcp://127.0.0.1:7003";
  std::string ingest_endpoint = "tcp://127.0.0.1:7001";
  std::string submit_endpoint = "tcp://127.0.0.1:7002";
  double timeout_s = 5;
  bool raw = false;
  app.add_option("--query", query_endpoint, "tallyd's query socket (ROUTER)")
      ->capture_default_str();
  app.add_option("--ingest", ingest_endpoint, "tallyd's fire-and-forget ingest socket (PULL)")
      ->capture_default_str();
  app.add_option("--submit", submit_endpoint, "tallyd's acknowledged-batch socket (ROUTER)")
      ->capture_default_str();
  app.add_option("--timeout", timeout_s,
                 "Seconds to wait for an answer, or for tallyd to take a message (send)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--json", raw, "Print tallyd's JSON answer as it is (send: the summary as JSON)");

  std::string subject, at;
  auto* score = app.add_subcommand("score", "A subject's score, tier and events counting");
  score->add_option("subject", subject, "Who, e.g. plate:NY:ABC1234")->required();
  score->add_option("--at", at,
                    "Answer for this time instead of now: RFC 3339, or epoch milliseconds");
  score->footer(
      "Examples:\n"
      "  tally score plate:NY:ABC1234\n"
      "  tally score plate:NY:ABC1234 --at 2025-03-01T00:00:00Z\n"
      "  tally score person:42 --at 1740787200000");

  auto* explain = app.add_subcommand(
      "explain", "A subject's score and every event behind it: counting, expired, revoked");
  explain->add_option("subject", subject, "Who, e.g. plate:NY:ABC1234")->required();
  explain->add_option("--at", at, "Explain as of this time: RFC 3339, or epoch milliseconds");
  explain->footer(
      "Prints the score line, then a table per group (id, type, points, time,\n"
      "expires, source): the events counting now, those expired or not yet in\n"
      "force, the revoked ones (with the revoking event), and revokes still\n"
      "waiting for the event they name.\n\n"
      "Example:\n"
      "  tally explain plate:NY:ABC1234");

  std::uint64_t n = 10;
  bool lowest = false;
  auto* history = app.add_subcommand(
      "history", "A subject's whole record: events, expiries, revocations, tier changes, by date");
  history->add_option("subject", subject, "Who, e.g. plate:NY:ABC1234")->required();
  history->footer(
      "One line per moment the record changed, in time order, with the score just after it:\n"
      "an event accepted (its rule, rule version, points, source), its expiry (past or to\n"
      "come), a revocation (by which revoke, its source and reason), a revoke still waiting\n"
      "for its event, and each change of tier.\n\n"
      "Example:\n"
      "  tally history plate:NY:ABC1234");

  RevokeSettings revoke_settings;
  auto* revoke_command = app.add_subcommand(
      "revoke", "Cancel an event (an appeal upheld, a camera misread): its points go back");
  revoke_command->add_option("subject", revoke_settings.subject, "Whose event")->required();
  revoke_command->add_option("event_id", revoke_settings.event_id, "The id of the event to cancel")
      ->required();
  revoke_command
      ->add_option("--reason", revoke_settings.reason,
                   "Why, for the record (shown by explain and history; at most 120 bytes)")
      ->required();
  revoke_command->add_option("--source", revoke_settings.source, "Who revokes it")
      ->capture_default_str();
  revoke_command->add_option("--id", revoke_settings.id,
                             "The revoke event's own id (default revoke:EVENT_ID, so sending the "
                             "same appeal twice records it once)");
  revoke_command->add_option("--time", revoke_settings.time,
                             "When the decision was taken: RFC 3339 or epoch ms (default now)");
  revoke_command->footer(
      "Sent on the acknowledged socket (--submit). The event's points stop counting at every\n"
      "date, as if it had never been accepted; if the event has not arrived yet, it is\n"
      "recorded as revoked when it does. Exits 0 when recorded (or already recorded), 1 if\n"
      "tallyd rejected it, 2 if it was not acknowledged.\n\n"
      "Example:\n"
      "  tally revoke plate:NY:ABC1234 nyc:4521236789 --reason \"appeal upheld: plate misread\" "
      "\\\n"
      "      --source dmv-appeals");

  auto* top = app.add_subcommand("top", "The N highest (or lowest) scores");
  top->add_option("n", n, "How many, 1 to 10000")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  top->add_flag("--lowest", lowest, "The lowest scores instead of the highest");
  top->footer(
      "Examples:\n"
      "  tally top 10\n"
      "  tally top 25 --lowest");

  auto* stats = app.add_subcommand(
      "stats", "Counts: received, accepted, duplicates, rejected by reason, subjects, per worker");
  stats->footer(
      "Example:\n"
      "  tally stats\n"
      "  tally --json stats      the full answer, for scripts");

  auto* reload = app.add_subcommand(
      "reload", "Re-read the rules file; a refused file leaves the running rules in place");
  reload->footer(
      "Exits 1, printing the file, line and reason, if the new rules are refused.\n\n"
      "Example:\n"
      "  tally reload");

  auto* snapshot = app.add_subcommand(
      "snapshot", "Write a snapshot of every worker's state now; older journals are dropped");
  snapshot->footer(
      "tallyd also snapshots periodically (--snapshot-interval, --snapshot-every) and when it\n"
      "stops. Exits 1 if a worker could not write its part (the journals still hold\n"
      "everything).\n\n"
      "Example:\n"
      "  tally snapshot");

  std::uint64_t set_workers = 0;
  auto* workers = app.add_subcommand("workers", "The worker count; with N, ask for N workers");
  auto* workers_n =
      workers->add_option("n", set_workers, "The worker count to set")->check(CLI::PositiveNumber);
  workers->footer(
      "Examples:\n"
      "  tally workers         how many now\n"
      "  tally workers 8       ask tallyd to run 8 (every score is kept)");

  SendSettings send_settings;
  auto* send_command = app.add_subcommand(
      "send", "Publish NDJSON events (one JSON object a line) from files or stdin");
  send_command->add_option("file", send_settings.files, "NDJSON files; - reads stdin")->required();
  send_command->add_flag(
      "--ack", send_settings.ack,
      "Acknowledged batches (to --submit): resend unanswered ones, report what took");
  send_command->add_option("--batch", send_settings.batch, "Events per message (1 = one a message)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  send_command
      ->add_option("--ack-timeout", send_settings.ack_timeout_s,
                   "--ack: seconds before an unanswered batch is sent again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  send_command
      ->add_option("--attempts", send_settings.attempts,
                   "--ack: sends of one batch before giving up on it")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  send_command->footer(
      "Without --ack, events go fire-and-forget to --ingest (PUSH): fastest, but\n"
      "tallyd does not answer. With --ack they go to --submit as acknowledged\n"
      "batches; the summary gives accepted, duplicates, rejected by reason (with\n"
      "the file and line of each rejected event) and resends, and the exit code\n"
      "is 1 unless every batch was acknowledged. Sending again is safe: events\n"
      "with ids tallyd has seen count as duplicates.\n\n"
      "Examples:\n"
      "  tally send events.ndjson --ack\n"
      "  zcat day.ndjson.gz | tally send - --batch 5000\n"
      "  tally --submit tcp://10.0.0.5:7002 send --ack a.ndjson b.ndjson");

  std::string rules_file;
  auto* rules_command = app.add_subcommand("rules", "Work with rules files (no daemon needed)");
  rules_command->require_subcommand(1);
  auto* rules_check = rules_command->add_subcommand(
      "check", "Validate a rules file as tallyd would, and print its rules, score and tiers");
  rules_check->add_option("file", rules_file, "The rules file (TOML)")->required();
  rules_check->footer(
      "Prints each rule (name, points, expiry, description), the score settings\n"
      "(base, clamp, clock, retain) and the tiers with the scores each covers, so\n"
      "a change can be reviewed before `tally reload` or a restart loads it.\n"
      "A refused file prints FILE:LINE:COLUMN: REASON on stderr.\n\n"
      "Exit codes: 0 valid; 3 refused; 2 the file cannot be read.\n\n"
      "Example:\n"
      "  tally rules check config/rules/demerit-ny.toml");

  app.footer(
      "Examples:\n"
      "  tally score plate:NY:ABC1234 [--at 2025-03-01T00:00:00Z]\n"
      "  tally explain plate:NY:ABC1234\n"
      "  tally history plate:NY:ABC1234\n"
      "  tally revoke plate:NY:ABC1234 nyc:4521236789 --reason \"appeal upheld\"\n"
      "  tally rules check config/rules/demerit-ny.toml\n"
      "  tally top 10 [--lowest]\n"
      "  tally stats | tally reload | tally workers [N] | tally snapshot\n"
      "  tally send events.ndjson --ack\n"
      "Run `tally COMMAND --help` for each command's flags.\n\n"
      "Exit codes: 0 done; 1 tallyd answered with an error (send --ack: something\n"
      "was not acknowledged); 2 no answer within --timeout, or bad input; 3 rules\n"
      "check: the rules file was refused.");
  CLI11_PARSE(app, argc, argv);

  if (rules_check->parsed()) return check_rules(rules_file);

  try {
    zmq::context_t context(1);
    if (revoke_command->parsed()) {
      return revoke(context, revoke_settings, submit_endpoint, timeout_s, raw);
    }
    if (send_command->parsed()) {
      return send(context, send_settings, send_settings.ack ? submit_endpoint : ingest_endpoint,
                  timeout_s, raw);
    }

    std::string op, request;
    if (score->parsed() || explain->parsed()) {
      op = score->parsed() ? "score" : "explain";
      request = fmt::format(R"({{"op":"{}","subject":{}{}}})", op, json_quoted(subject),
                            at.empty() ? "" : ",\"at\":" + time_value(at));
    } else if (history->parsed()) {
      op = "history";
      request = fmt::format(R"({{"op":"history","subject":{}}})", json_quoted(subject));
    } else if (top->parsed()) {
      op = "top";
      request =
          fmt::format(R"({{"op":"top","n":{},"order":"{}"}})", n, lowest ? "lowest" : "highest");
    } else if (stats->parsed()) {
      op = "stats";
      request = R"({"op":"stats"})";
    } else if (reload->parsed()) {
      op = "reload";
      request = R"({"op":"reload"})";
    } else if (snapshot->parsed()) {
      op = "snapshot";
      request = R"({"op":"snapshot"})";
    } else {
      op = "workers";
      request = workers_n->count() > 0 ? fmt::format(R"({{"op":"workers","set":{}}})", set_workers)
                                       : R"({"op":"workers"})";
    }
    QueryClient client(context, query_endpoint, to_ms(timeout_s));
    const auto answer = client.request(request);
    if (!answer) {
      std::fprintf(stderr, "tally: %s\n", client.last_error().c_str());
      return kExitNoAnswer;
    }
    return print_answer(op, *answer, raw);
  } catch (const zmq::error_t& error) {
    // In practice: an endpoint ZeroMQ cannot parse, e.g. "localhost:7003".
    std::fprintf(stderr, "tally: %s (endpoints look like tcp://127.0.0.1:7003)\n", error.what());
    return kExitNoAnswer;
  }
}
