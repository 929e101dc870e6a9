#include "apps/tally/query_commands.h"

#include <charconv>

#include "apps/tally/ask.h"
#include "core/event_time.h"

namespace tally::cli {

Result<std::int64_t> parse_time_flag(std::string_view flag, const std::string& text) {
  std::int64_t ms = 0;
  const char* end = text.data() + text.size();
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (std::from_chars(text.data(), end, ms).ptr == end) return ms;
  } else if (const auto parsed = parse_rfc3339_ms(text)) {
    return *parsed;
  }
  std::string message(flag);
  message += " must be an RFC 3339 time (2025-03-01T00:00:00Z) or epoch milliseconds, not `";
  message += text;
  message += "`";
  return api::refusal(api::ErrorCode::kBadTime, std::move(message));
}

QueryCommands::QueryCommands(CLI::App& app) {
  score_ = add_query_subcommand(app, "score", "A subject's score, tier and events counting",
                                "Examples:\n"
                                "  tally score plate:NY:ABC1234\n"
                                "  tally score plate:NY:ABC1234 --at 2025-03-01T00:00:00Z\n"
                                "  tally score person:42 --at 1740787200000");

  explain_ = add_query_subcommand(
      app, "explain", "A subject's score and every event behind it: counting, expired, revoked",
      "Prints the score line, then a table per group (id, type, points, time,\n"
      "expires, source): the events counting now, those expired or not yet in\n"
      "force, the revoked ones (with the revoking event), and revokes still\n"
      "waiting for the event they name.\n\n"
      "Example:\n"
      "  tally explain plate:NY:ABC1234");

  for (CLI::App* command : {score_, explain_}) {
    command->add_option("--at", at_, "As of this time instead of now: RFC 3339, or epoch ms");
  }

  history_ = add_query_subcommand(
      app, "history",
      "A subject's whole record: events, expiries, revocations, tier changes, by date",
      "One line per moment the record changed, in time order, with the score just after it:\n"
      "an event accepted (its rule, rule version, points, source), its expiry (past or to\n"
      "come), a revocation (by which revoke, its source and reason), a revoke still waiting\n"
      "for its event, and each change of tier.\n\n"
      "Example:\n"
      "  tally history plate:NY:ABC1234");

  for (CLI::App* command : {score_, explain_, history_}) {
    command->add_option("subject", subject_, "Who, e.g. plate:NY:ABC1234")->required();
  }

  top_ = add_query_subcommand(app, "top", "The N highest (or lowest) scores",
                              "Examples:\n"
                              "  tally top 10\n"
                              "  tally top 25 --lowest");
  top_->add_option("n", n_, "How many, 1 to 10000")
      ->check(CLI::Range(std::uint64_t{1}, api::kMaxTopN))
      ->capture_default_str();
  top_->add_flag("--lowest", lowest_, "The lowest scores instead of the highest");

  stats_ = add_query_subcommand(
      app, "stats",
      "Counts: received, accepted, duplicates, rejected by reason, subjects, per worker",
      "Example:\n"
      "  tally stats\n"
      "  tally --json stats      the full answer, for scripts");
}

bool QueryCommands::parsed() const {
  return score_->parsed() || explain_->parsed() || history_->parsed() || top_->parsed() ||
         stats_->parsed();
}

Result<api::Request> QueryCommands::request() const {
  std::optional<std::int64_t> at_ms;
  if (!at_.empty()) {
    const Result<std::int64_t> at = parse_time_flag("--at", at_);
    if (!at) return at.status();
    at_ms = *at;
  }
  if (score_->parsed()) return api::Request(api::ScoreRequest{subject_, at_ms});
  if (explain_->parsed()) return api::Request(api::ExplainRequest{subject_, at_ms});
  if (history_->parsed()) return api::Request(api::HistoryRequest{subject_});
  if (top_->parsed()) {
    return api::Request(api::TopRequest{n_, lowest_ ? api::Order::kLowest : api::Order::kHighest});
  }
  return api::Request(api::StatsRequest{});
}

}  // namespace tally::cli
