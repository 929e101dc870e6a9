#include "scorer/query_handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "stream/event_time.h"
#include "stream/json_text.h"

namespace tally::scorer {
namespace {

using stream::append_json_string;
using stream::format_rfc3339_ms;

constexpr std::uint64_t kMaxTop = 10000;

void append_time(std::string& out, std::int64_t ms) {
  if (ms == stream::kNever) {
    out += "null";
  } else {
    append_json_string(out, format_rfc3339_ms(ms));
  }
}

void append_score_fields(std::string& out, const RuleSet& rules, std::string_view subject,
                         const ScoreSum& sum, std::int64_t at_ms) {
  const std::int64_t score = rules.clamp(rules.score().base + sum.raw);
  out += "\"subject\":";
  append_json_string(out, subject);
  fmt::format_to(std::back_inserter(out), ",\"score\":{},\"tier\":", score);
  append_json_string(out, rules.tier_for(score));
  fmt::format_to(std::back_inserter(out), ",\"events\":{},\"at\":", sum.active);
  append_time(out, at_ms);
}

void append_contribution(std::string& out, const ContributionView& c) {
  out += "{\"id\":";
  append_json_string(out, c.id);
  out += ",\"type\":";
  append_json_string(out, c.type);
  fmt::format_to(std::back_inserter(out), ",\"points\":{},\"time\":", c.points);
  append_time(out, c.time_ms);
  out += ",\"expires\":";
  append_time(out, c.expires_ms);
  out += ",\"source\":";
  append_json_string(out, c.source);
  fmt::format_to(std::back_inserter(out), ",\"rules_version\":{}", c.rules_version);
  if (c.revoked) {
    out += ",\"revoked_by\":";
    append_json_string(out, c.revoked_by);
    out += ",\"revoke_source\":";
    append_json_string(out, c.revoke_source);
    out += ",\"revoke_reason\":";
    append_json_string(out, c.revoke_reason);
    out += ",\"revoked_at\":";
    append_time(out, c.revoked_at_ms);
  }
  out += "}";
}

// score / explain for one subject, on its owning worker.
class SubjectCommand final : public ShardCommand {
 public:
  SubjectCommand(std::string subject, std::optional<std::int64_t> at, bool explain)
      : subject_(std::move(subject)), at_(at), explain_(explain) {}

  void run(ShardWorker& worker) override {
    const RuleSet& rules = worker.rules();
    const std::int64_t at = at_.value_or(worker.now_ms());
    const SubjectState* state = worker.table().find(subject_);
    const ScoreSum sum = state != nullptr ? SubjectTable::score_at(*state, at) : ScoreSum{};
    answer.clear();
    answer += "{";
    append_score_fields(answer, rules, subject_, sum, at);
    if (explain_) append_explanation(state, at);
    answer += "}";
  }

  std::string answer;

 private:
  void append_explanation(const SubjectState* state, std::int64_t at) {
    std::string active, inactive, revoked, pending;
    if (state != nullptr) {
      SubjectTable::for_each_contribution(*state, [&](const ContributionView& c) {
        std::string& list =
            c.revoked ? revoked : (c.time_ms <= at && at < c.expires_ms ? active : inactive);
        if (!list.empty()) list += ",";
        append_contribution(list, c);
      });
      SubjectTable::for_each_pending_revoke(*state, [&](const PendingRevokeView& r) {
        if (!pending.empty()) pending += ",";
        pending += "{\"id\":";
        append_json_string(pending, r.id);
        pending += ",\"revokes\":";
        append_json_string(pending, r.target);
        pending += ",\"source\":";
        append_json_string(pending, r.source);
        pending += ",\"reason\":";
        append_json_string(pending, r.reason);
        pending += ",\"time\":";
        append_time(pending, r.time_ms);
        pending += "}";
      });
    }
    answer += ",\"contributions\":[" + active + "]";
    answer += ",\"inactive\":[" + inactive + "]";
    answer += ",\"revoked\":[" + revoked + "]";
    answer += ",\"pending_revokes\":[" + pending + "]";
  }

  std::string subject_;
  std::optional<std::int64_t> at_;
  bool explain_;
};

// A subject's whole record in time order: events accepted (with their terms),
// expiries (past or to come), revocations, revokes still waiting for their
// target, and tier changes, each with the score just after it.
class HistoryCommand final : public ShardCommand {
 public:
  explicit HistoryCommand(std::string subject) : subject_(std::move(subject)) {}

  void run(ShardWorker& worker) override {
    const RuleSet& rules = worker.rules();
    const std::int64_t now = worker.now_ms();
    const SubjectState* state = worker.table().find(subject_);
    const ScoreSum sum = state != nullptr ? SubjectTable::score_at(*state, now) : ScoreSum{};
    answer.clear();  // assigning a literal here trips GCC 12's -Wrestrict
    answer.push_back('{');
    append_score_fields(answer, rules, subject_, sum, now);
    answer += ",\"timeline\":[";
    if (state != nullptr) append_timeline(*state, rules, now);
    answer += "]}";
  }

  std::string answer;

 private:
  struct Entry {
    std::int64_t time_ms;
    int order;  // at one instant: accepted, revoked, expired, tier
    std::string json;
  };

  void append_timeline(const SubjectState& state, const RuleSet& rules, std::int64_t now) {
    std::vector<Entry> entries;
    const auto score_at = [&](std::int64_t at) {
      return rules.clamp(rules.score().base + SubjectTable::score_at(state, at).raw);
    };
    const auto begin = [](std::string& out, const char* what, std::int64_t time) {
      out += "{\"time\":";
      append_time(out, time);
      out += ",\"what\":\"";
      out += what;
      out += "\"";
    };
    SubjectTable::for_each_contribution(state, [&](const ContributionView& c) {
      Entry accepted{c.time_ms, 0, {}};
      begin(accepted.json, "accepted", c.time_ms);
      accepted.json += ",\"id\":";
      append_json_string(accepted.json, c.id);
      accepted.json += ",\"type\":";
      append_json_string(accepted.json, c.type);
      fmt::format_to(std::back_inserter(accepted.json), ",\"points\":{},\"rules_version\":{}",
                     c.points, c.rules_version);
      accepted.json += ",\"source\":";
      append_json_string(accepted.json, c.source);
      accepted.json += ",\"expires\":";
      append_time(accepted.json, c.expires_ms);
      if (c.revoked) accepted.json += ",\"revoked\":true";
      fmt::format_to(std::back_inserter(accepted.json), ",\"score\":{}}}", score_at(c.time_ms));
      entries.push_back(std::move(accepted));
      if (c.revoked) {
        Entry revoked{c.revoked_at_ms, 1, {}};
        begin(revoked.json, "revoked", c.revoked_at_ms);
        revoked.json += ",\"id\":";
        append_json_string(revoked.json, c.id);
        revoked.json += ",\"by\":";
        append_json_string(revoked.json, c.revoked_by);
        revoked.json += ",\"source\":";
        append_json_string(revoked.json, c.revoke_source);
        revoked.json += ",\"reason\":";
        append_json_string(revoked.json, c.revoke_reason);
        fmt::format_to(std::back_inserter(revoked.json), ",\"score\":{}}}",
                       score_at(c.revoked_at_ms));
        entries.push_back(std::move(revoked));
      } else if (c.expires_ms != stream::kNever) {
        Entry expiry{c.expires_ms, 2, {}};
        begin(expiry.json, c.expires_ms <= now ? "expired" : "expires", c.expires_ms);
        expiry.json += ",\"id\":";
        append_json_string(expiry.json, c.id);
        fmt::format_to(std::back_inserter(expiry.json), ",\"points\":{},\"score\":{}}}", -c.points,
                       score_at(c.expires_ms));
        entries.push_back(std::move(expiry));
      }
    });
    SubjectTable::for_each_pending_revoke(state, [&](const PendingRevokeView& r) {
      Entry pending{r.time_ms, 1, {}};
      begin(pending.json, "revoke_pending", r.time_ms);
      pending.json += ",\"id\":";
      append_json_string(pending.json, r.id);
      pending.json += ",\"revokes\":";
      append_json_string(pending.json, r.target);
      pending.json += ",\"source\":";
      append_json_string(pending.json, r.source);
      pending.json += ",\"reason\":";
      append_json_string(pending.json, r.reason);
      pending.json += "}";
      entries.push_back(std::move(pending));
    });
    TierChangeFinder finder;
    finder.find(state, rules, std::numeric_limits<std::int64_t>::min() + 1,
                std::numeric_limits<std::int64_t>::max() - 1, TierChangeFinder::Causes::kAll,
                [&](const TierChange& change) {
                  Entry tier{change.time_ms, 3, {}};
                  begin(tier.json, "tier", change.time_ms);
                  tier.json += ",\"from\":";
                  append_json_string(tier.json, change.from);
                  tier.json += ",\"to\":";
                  append_json_string(tier.json, change.to);
                  tier.json += ",\"cause\":";
                  append_json_string(tier.json, change.cause_id);
                  fmt::format_to(std::back_inserter(tier.json), ",\"by_expiry\":{},\"score\":{}}}",
                                 change.by_expiry, change.score);
                  entries.push_back(std::move(tier));
                });
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.order < b.order;
    });
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) answer += ",";
      answer += entries[i].json;
    }
  }

  std::string subject_;
};

struct Ranked {
  std::string subject;
  std::int64_t score;
};

// Orders the "better" entry first: by score in the requested direction,
// then by subject, so that answers are deterministic.
struct RankOrder {
  bool highest;
  bool operator()(const Ranked& a, const Ranked& b) const {
    if (a.score != b.score) return highest ? a.score > b.score : a.score < b.score;
    return a.subject < b.subject;
  }
};

class TopCommand final : public ShardCommand {
 public:
  TopCommand(std::size_t n, bool highest, std::int64_t at) : n_(n), order_{highest}, at_(at) {}

  void run(ShardWorker& worker) override {
    const RuleSet& rules = worker.rules();
    // A bounded heap: the worst of the kept entries on top.
    worker.table().for_each_subject([&](const SubjectState& state) {
      const std::int64_t score =
          rules.clamp(rules.score().base + SubjectTable::score_at(state, at_).raw);
      const std::string_view subject = SubjectTable::subject_of(state);
      if (result.size() == n_) {
        const Ranked& worst = result.front();
        if (!order_(Ranked{std::string(subject), score}, worst)) return;
        std::pop_heap(result.begin(), result.end(), order_);
        result.pop_back();
      }
      result.push_back({std::string(subject), score});
      std::push_heap(result.begin(), result.end(), order_);
    });
  }

  std::vector<Ranked> result;

 private:
  std::size_t n_;
  RankOrder order_;
  std::int64_t at_;
};

std::optional<std::int64_t> parse_time_value(simdjson::dom::element value) {
  if (value.is_int64()) return value.get_int64().value();
  if (value.is_uint64()) return std::nullopt;
  if (value.is_string()) return stream::parse_rfc3339_ms(value.get_string().value());
  return std::nullopt;
}

}  // namespace

std::string error_json(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  append_json_string(out, code);
  out += ",\"message\":";
  append_json_string(out, message);
  out += "}}";
  return out;
}

QueryHandler::QueryHandler(Engine& engine, const stream::IngestCounters* ingest,
                           std::function<void()> while_waiting)
    : engine_(engine), ingest_(ingest), while_waiting_(std::move(while_waiting)) {}

std::string QueryHandler::handle(std::string_view request) {
  simdjson::dom::element document;
  if (parser_.parse(request.data(), request.size()).get(document) != simdjson::SUCCESS) {
    return error_json("bad_request", "the request is not valid JSON");
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return error_json("bad_request", "the request must be a JSON object");
  }
  std::string_view op;
  auto op_field = object["op"];
  if (op_field.error() == simdjson::NO_SUCH_FIELD) {
    return error_json("missing_field", "`op` is required");
  }
  if (op_field.get_string().get(op) != simdjson::SUCCESS) {
    return error_json("bad_field", "`op` must be a string");
  }
  if (op == "score") return score(object, false);
  if (op == "explain") return score(object, true);
  if (op == "top") return top(object);
  if (op == "stats") return stats_json();
  if (op == "reload") return reload();
  if (op == "workers") return workers(object);
  if (op == "snapshot") return snapshot();
  if (op == "history") return history(object);
  return error_json("unknown_op", fmt::format("unknown op `{}`; expected one of score, explain, "
                                              "history, top, stats, reload, workers, snapshot",
                                              op));
}

std::optional<std::string> QueryHandler::subject_of(simdjson::dom::object request,
                                                    std::string& error) {
  std::string_view subject;
  auto subject_field = request["subject"];
  if (subject_field.error() == simdjson::NO_SUCH_FIELD) {
    error = error_json("missing_field", "`subject` is required");
    return std::nullopt;
  }
  if (subject_field.get_string().get(subject) != simdjson::SUCCESS || subject.empty()) {
    error = error_json("bad_field", "`subject` must be a non-empty string");
    return std::nullopt;
  }
  return std::string(subject);
}

std::string QueryHandler::history(simdjson::dom::object request) {
  std::string error;
  const std::optional<std::string> subject = subject_of(request, error);
  if (!subject) return error;
  HistoryCommand command(*subject);
  engine_.run_on(Producer::kControl, engine_.groups().worker_of(stream::stable_hash64(*subject)),
                 command, while_waiting_);
  return std::move(command.answer);
}

std::string QueryHandler::score(simdjson::dom::object request, bool explain) {
  std::string error;
  const std::optional<std::string> subject_text = subject_of(request, error);
  if (!subject_text) return error;
  const std::string_view subject = *subject_text;
  std::optional<std::int64_t> at;
  auto at_field = request["at"];
  if (at_field.error() == simdjson::SUCCESS) {
    at = parse_time_value(at_field.value());
    if (!at) {
      return error_json("bad_time",
                        "`at` must be an RFC 3339 time or an integer of epoch milliseconds");
    }
  }
  SubjectCommand command(std::string(subject), at, explain);
  engine_.run_on(Producer::kControl, engine_.groups().worker_of(stream::stable_hash64(subject)),
                 command, while_waiting_);
  return std::move(command.answer);
}

std::string QueryHandler::top(simdjson::dom::object request) {
  std::uint64_t n = 10;
  auto n_field = request["n"];
  if (n_field.error() == simdjson::SUCCESS &&
      (n_field.get_uint64().get(n) != simdjson::SUCCESS || n == 0 || n > kMaxTop)) {
    return error_json("bad_field", fmt::format("`n` must be an integer from 1 to {}", kMaxTop));
  }
  bool highest = true;
  auto order_field = request["order"];
  if (order_field.error() == simdjson::SUCCESS) {
    std::string_view order;
    if (order_field.get_string().get(order) != simdjson::SUCCESS ||
        (order != "highest" && order != "lowest")) {
      return error_json("bad_field", "`order` must be \"highest\" or \"lowest\"");
    }
    highest = order == "highest";
  }
  const std::int64_t at = engine_.now_ms();
  std::deque<TopCommand> commands;  // deque: commands are not movable
  for (std::uint32_t w = 0; w < engine_.workers(); ++w) commands.emplace_back(n, highest, at);
  std::vector<ShardCommand*> pointers;
  for (auto& command : commands) pointers.push_back(&command);
  engine_.run_on_all(Producer::kControl, pointers, while_waiting_);

  std::vector<Ranked> merged;
  for (auto& command : commands) {
    std::move(command.result.begin(), command.result.end(), std::back_inserter(merged));
  }
  const RankOrder order{highest};
  std::sort(merged.begin(), merged.end(), order);
  if (merged.size() > n) merged.resize(n);

  const RuleSet& rules = engine_.rules();
  std::string out =
      fmt::format("{{\"order\":\"{}\",\"n\":{},\"at\":", highest ? "highest" : "lowest", n);
  append_time(out, at);
  out += ",\"subjects\":[";
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"subject\":";
    append_json_string(out, merged[i].subject);
    fmt::format_to(std::back_inserter(out), ",\"score\":{},\"tier\":", merged[i].score);
    append_json_string(out, rules.tier_for(merged[i].score));
    out += "}";
  }
  out += "]}";
  return out;
}

std::string QueryHandler::stats_json() {
  const std::vector<ShardStats> shards = engine_.stats(Producer::kControl, while_waiting_);
  std::uint64_t accepted = 0, duplicates = 0, subjects = 0;
  for (const auto& shard : shards) {
    accepted += shard.accepted;
    duplicates += shard.duplicates;
    subjects += shard.subjects;
  }
  std::string out;
  std::uint64_t received = 0, rejected_total = 0;
  std::string rejected = "{";
  if (ingest_ != nullptr) {
    received = ingest_->received.load(std::memory_order_relaxed);
    for (std::size_t r = 0; r < stream::kRejectReasonCount; ++r) {
      const std::uint64_t count = ingest_->rejected[r].load(std::memory_order_relaxed);
      rejected_total += count;
      if (r > 0) rejected += ",";
      fmt::format_to(std::back_inserter(rejected), "\"{}\":{}", stream::kRejectReasonNames[r],
                     count);
    }
  }
  rejected += "}";
  out = fmt::format(
      "{{\"received\":{},\"accepted\":{},\"duplicates\":{},\"rejected_total\":{},"
      "\"rejected\":{},\"subjects\":{},\"rules_version\":{},\"workers\":[",
      received, accepted, duplicates, rejected_total, rejected, subjects,
      engine_.rules().version());
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const auto& shard = shards[i];
    if (i > 0) out += ",";
    fmt::format_to(std::back_inserter(out),
                   "{{\"worker\":{},\"accepted\":{},\"duplicates\":{},\"subjects\":{},"
                   "\"queue_depth\":{},\"busy_seconds\":{:.6f},\"memory_bytes\":{},"
                   "\"recovered\":{},\"journal\":{{\"records\":{},\"bytes\":{},\"syncs\":{},"
                   "\"errors\":{},\"pending_bytes\":{}}}}}",
                   shard.worker, shard.accepted, shard.duplicates, shard.subjects,
                   shard.queue_depth, shard.busy_seconds, shard.memory_bytes, shard.recovered,
                   shard.journal_records, shard.journal_bytes, shard.journal_syncs,
                   shard.journal_errors, shard.journal_pending_bytes);
  }
  out += "]}";
  return out;
}

std::string QueryHandler::reload() {
  RulesResult result = engine_.reload();
  if (const auto* error = std::get_if<RulesError>(&result)) {
    std::string out = "{\"reloaded\":false,\"error\":{\"code\":\"rules_refused\",\"message\":";
    append_json_string(out, error->to_string());
    out += ",\"file\":";
    append_json_string(out, error->file);
    fmt::format_to(std::back_inserter(out), ",\"line\":{},\"column\":{},\"reason\":", error->line,
                   error->column);
    append_json_string(out, error->reason);
    out += "}}";
    return out;
  }
  const auto& rules = *std::get<std::shared_ptr<const RuleSet>>(result);
  std::string out =
      fmt::format("{{\"reloaded\":true,\"version\":{},\"rules\":{},\"file\":", rules.version(),
                  rules.rules().size());
  append_json_string(out, rules.source());
  out += "}";
  return out;
}

std::string QueryHandler::snapshot() {
  if (!engine_.journaled()) {
    return error_json("not_supported",
                      "this daemon runs without a journal (--no-journal): there is no state on "
                      "disk to snapshot");
  }
  const SnapshotReport report = engine_.snapshot(while_waiting_);
  if (!report.ok) return error_json("snapshot_failed", report.error);
  return fmt::format(
      "{{\"snapshot\":{},\"records\":{},\"bytes\":{},\"seconds\":{:.3f},"
      "\"longest_pause_seconds\":{:.3f}}}",
      report.generation, report.records, report.bytes, report.seconds,
      report.longest_pause_seconds);
}

std::string QueryHandler::workers(simdjson::dom::object request) {
  auto set_field = request["set"];
  if (set_field.error() == simdjson::SUCCESS) {
    std::uint64_t wanted = 0;
    if (set_field.get_uint64().get(wanted) != simdjson::SUCCESS || wanted == 0 ||
        wanted > stream::kKeyGroups) {
      return error_json("bad_field", "`set` must be an integer from 1 to 4096");
    }
    if (wanted != engine_.workers()) {
      return error_json("not_supported",
                        fmt::format("changing the worker count of a running daemon is not "
                                    "supported yet (running {}, asked {}); restart it with "
                                    "--workers: recovery spreads the journaled state over the "
                                    "new count",
                                    engine_.workers(), wanted));
    }
  }
  return fmt::format("{{\"workers\":{}}}", engine_.workers());
}

}  // namespace tally::scorer
