// Writing answers: the JSON tallyd sends. Field order is part of the
// contract (see api/answers.h).
#include "api/answers.h"

#include <charconv>

#include "core/event_time.h"
#include "core/json_writer.h"
#include "core/key_groups.h"

namespace tally::api {
namespace {

static_assert(TimelineEntry::kWhatNames.size() ==
              static_cast<std::size_t>(TimelineEntry::What::kTier) + 1);

void time_field(JsonWriter& json, std::string_view key, std::int64_t ms) {
  json.key(key);
  if (ms == kNever) {
    json.null();
  } else {
    json.value(format_rfc3339_ms(ms));
  }
}

// A number with a fixed count of decimals ("0.250000"), as people read it.
void fixed_field(JsonWriter& json, std::string_view key, double number, int decimals) {
  char buffer[64];
  const auto written =
      std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::fixed, decimals);
  json.key(key);
  if (written.ec != std::errc()) {
    json.value(number);
  } else {
    json.raw(std::string_view(buffer, static_cast<std::size_t>(written.ptr - buffer)));
  }
}

void score_fields(JsonWriter& json, const ScoreAnswer& a) {
  json.field("subject", a.subject).field("score", a.score).field("tier", a.tier);
  json.field("events", a.events);
  time_field(json, "at", a.at_ms);
}

void write_contributions(JsonWriter& json, std::string_view key,
                         const std::vector<Contribution>& list) {
  json.key(key).begin_array();
  for (const Contribution& c : list) {
    json.begin_object().field("id", c.id).field("type", c.type).field("points", c.points);
    time_field(json, "time", c.time_ms);
    time_field(json, "expires", c.expires_ms);
    json.field("source", c.source).field("rules_version", c.rules_version);
    if (c.revoked) {
      json.field("revoked_by", c.revocation.by)
          .field("revoke_source", c.revocation.source)
          .field("revoke_reason", c.revocation.reason);
      time_field(json, "revoked_at", c.revocation.at_ms);
      if (!c.revocation.client.empty()) json.field("revoke_client", c.revocation.client);
    }
    json.end_object();
  }
  json.end_array();
}

void write_entry(JsonWriter& json, const TimelineEntry& e) {
  using What = TimelineEntry::What;
  json.begin_object();
  time_field(json, "time", e.time_ms);
  json.field("what", to_string(e.what));
  switch (e.what) {
    case What::kAccepted:
      json.field("id", e.id).field("type", e.type).field("points", e.points);
      json.field("rules_version", e.rules_version).field("source", e.source);
      time_field(json, "expires", e.expires_ms);
      if (e.revoked) json.field("revoked", true);
      json.field("score", e.score);
      break;
    case What::kRevoked:
      json.field("id", e.id).field("by", e.by).field("source", e.source);
      json.field("reason", e.reason);
      if (!e.client.empty()) json.field("client", e.client);
      json.field("score", e.score);
      break;
    case What::kExpired:
    case What::kExpires:
      json.field("id", e.id).field("points", e.points).field("score", e.score);
      break;
    case What::kRevokePending:
      json.field("id", e.id).field("revokes", e.revokes).field("source", e.source);
      json.field("reason", e.reason);
      if (!e.client.empty()) json.field("client", e.client);
      break;
    case What::kTier:
      json.field("from", e.from).field("to", e.to).field("cause", e.cause);
      json.field("by_expiry", e.by_expiry).field("score", e.score);
      break;
  }
  json.end_object();
}

// One JSON object, its members written by `write`.
template <typename Write>
std::string json_object(Write write) {
  std::string out;
  JsonWriter json(out);
  json.begin_object();
  write(json);
  json.end_object();
  return out;
}

}  // namespace

std::string_view to_string(TimelineEntry::What what) noexcept {
  return TimelineEntry::kWhatNames[static_cast<std::size_t>(what)];
}

ReloadAnswer ReloadAnswer::loaded(std::uint32_t version, std::uint64_t rules, std::string file) {
  ReloadAnswer answer;
  answer.reloaded = true;
  answer.version = version;
  answer.rules = rules;
  answer.file = std::move(file);
  return answer;
}

ReloadAnswer ReloadAnswer::refused(Status why) {
  ReloadAnswer answer;
  if (const Status::Place* place = why.place(); place != nullptr) answer.file = place->file;
  answer.refusal = std::move(why);
  return answer;
}

std::string error_json(const Status& refusal) {
  return json_object([&](JsonWriter& json) {
    json.key("error").begin_object();
    json.field("code", to_string(error_code_of(refusal).value_or(ErrorCode::kBadRequest)));
    json.field("message", refusal.message()).end_object();
  });
}

std::string to_json(const MovedError& moved) {
  return json_object([&](JsonWriter& json) {
    json.key("error").begin_object();
    json.field("code", to_string(ErrorCode::kMoved)).field("message", moved.message);
    json.field("partition", moved.partition).key("owners").begin_array();
    for (const std::string& owner : moved.owners) json.value(owner);
    json.end_array().end_object();
  });
}

std::string to_json(const ScoreAnswer& answer) {
  return json_object([&](JsonWriter& json) { score_fields(json, answer); });
}

std::string to_json(const ExplainAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    score_fields(json, answer.score);
    write_contributions(json, "contributions", answer.contributions);
    write_contributions(json, "inactive", answer.inactive);
    write_contributions(json, "revoked", answer.revoked);
    json.key("pending_revokes").begin_array();
    for (const PendingRevoke& r : answer.pending_revokes) {
      json.begin_object().field("id", r.id).field("revokes", r.revokes).field("source", r.source);
      json.field("reason", r.reason);
      time_field(json, "time", r.time_ms);
      if (!r.client.empty()) json.field("client", r.client);
      json.end_object();
    }
    json.end_array();
  });
}

std::string to_json(const HistoryAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    score_fields(json, answer.score);
    json.key("timeline").begin_array();
    for (const TimelineEntry& entry : answer.timeline) write_entry(json, entry);
    json.end_array();
  });
}

std::string to_json(const TopAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("order", to_string(answer.order)).field("n", answer.n);
    time_field(json, "at", answer.at_ms);
    json.key("subjects").begin_array();
    for (const RankedSubject& s : answer.subjects) {
      json.begin_object().field("subject", s.subject).field("score", s.score);
      json.field("tier", s.tier).end_object();
    }
    json.end_array();
  });
}

std::string to_json(const StatsAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("received", answer.received).field("accepted", answer.accepted);
    json.field("duplicates", answer.duplicates).field("rejected_total", answer.rejected_total);
    json.key("rejected").begin_object();
    for (const auto& [reason, count] : answer.rejected) json.field(reason, count);
    json.end_object();
    json.field("subjects", answer.subjects).field("rules_version", answer.rules_version);
    json.key("workers").begin_array();
    for (const WorkerStats& w : answer.workers) {
      json.begin_object().field("worker", w.worker).field("accepted", w.accepted);
      json.field("duplicates", w.duplicates).field("subjects", w.subjects);
      json.field("queue_depth", w.queue_depth);
      fixed_field(json, "busy_seconds", w.busy_seconds, 6);
      json.field("memory_bytes", w.memory_bytes).field("recovered", w.recovered);
      json.key("journal").begin_object().field("records", w.journal_records);
      json.field("bytes", w.journal_bytes).field("syncs", w.journal_syncs);
      json.field("errors", w.journal_errors).field("pending_bytes", w.journal_pending_bytes);
      json.end_object().end_object();
    }
    json.end_array();
  });
}

std::string to_json(const ReloadAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("reloaded", answer.reloaded);
    if (answer.reloaded) {
      json.field("version", answer.version).field("rules", answer.rules);
      json.field("file", answer.file);
    } else {
      const Status::Place* place = answer.refusal.place();
      json.key("error").begin_object().field("code", to_string(ErrorCode::kRulesRefused));
      json.field("message", answer.refusal.to_string()).field("file", answer.file);
      json.field("line", place != nullptr ? place->line : 0u);
      json.field("column", place != nullptr ? place->column : 0u);
      json.field("reason", answer.refusal.message()).end_object();
    }
  });
}

std::string to_json(const WorkersAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("workers", answer.workers);
    json.key("per_worker").begin_array();
    for (const WorkerLoad& w : answer.per_worker) {
      json.begin_object().field("worker", w.worker);
      fixed_field(json, "utilisation", w.utilisation, 3);
      json.field("queue_depth", w.queue_depth).field("subjects", w.subjects);
      json.field("key_groups", w.key_groups).end_object();
    }
    json.end_array();
    if (!answer.rescale) return;
    const RescaleStatus& r = *answer.rescale;
    json.key("rescale").begin_object().field("state", r.state);
    json.field("from", r.from).field("to", r.to);
    json.field("groups_total", r.groups_total).field("groups_moved", r.groups_moved);
    json.field("subjects_moved", r.subjects_moved);
    fixed_field(json, "seconds", r.seconds, 3);
    fixed_field(json, "longest_pause_seconds", r.longest_pause_seconds, 3);
    if (!r.error.empty()) json.field("error", r.error);
    json.end_object();
  });
}

namespace {

void impact_row_fields(JsonWriter& json, const ImpactRow& row) {
  json.field("subject", row.subject).field("score_now", row.score_now);
  json.field("score_proposed", row.score_proposed).field("tier_now", row.tier_now);
  json.field("tier_proposed", row.tier_proposed);
}

void names(JsonWriter& json, std::string_view key, const std::vector<std::string>& list) {
  json.key(key).begin_array();
  for (const std::string& name : list) json.value(name);
  json.end_array();
}

}  // namespace

std::string to_json(const ImpactAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("file", answer.file);
    time_field(json, "at", answer.at_ms);
    fixed_field(json, "seconds", answer.seconds, 3);
    json.field("subjects", answer.subjects).field("changed_score", answer.changed_score);
    json.field("changed_tier", answer.changed_tier);
    names(json, "tiers_now", answer.tiers_now);
    names(json, "tiers_proposed", answer.tiers_proposed);
    json.key("transitions").begin_array();
    for (const ImpactTransition& t : answer.transitions) {
      json.begin_object().field("from", t.from).field("to", t.to).field("count", t.count);
      json.end_object();
    }
    json.end_array();
    const ImpactDelta& d = answer.delta;
    json.key("delta").begin_object().field("min", d.min).field("p25", d.p25);
    json.field("median", d.median).field("p75", d.p75).field("max", d.max);
    json.field("up", d.up).field("down", d.down).end_object();
    json.key("top").begin_array();
    for (const ImpactSubject& subject : answer.top) {
      json.begin_object();
      impact_row_fields(json, subject);
      names(json, "types", subject.types);
      json.end_object();
    }
    json.end_array();
    json.key("types").begin_array();
    for (const ImpactType& t : answer.types) {
      json.begin_object().field("type", t.type).field("events_now", t.events_now);
      json.field("events_proposed", t.events_proposed).field("points_now", t.points_now);
      json.field("points_proposed", t.points_proposed).field("in_proposal", t.in_proposal);
      json.field("stored", t.stored).field("in_current", t.in_current).end_object();
    }
    json.end_array();
    if (!answer.rows) return;
    json.key("rows").begin_array();
    for (const ImpactRow& row : *answer.rows) {
      json.begin_object();
      impact_row_fields(json, row);
      json.end_object();
    }
    json.end_array();
  });
}

std::string to_json(const SnapshotAnswer& answer) {
  return json_object([&](JsonWriter& json) {
    json.field("snapshot", answer.snapshot).field("records", answer.records);
    json.field("bytes", answer.bytes);
    fixed_field(json, "seconds", answer.seconds, 3);
    fixed_field(json, "longest_pause_seconds", answer.longest_pause_seconds, 3);
  });
}

AlertView view_of(const AlertBody& alert) noexcept {
  return {alert.seq,   alert.subject, alert.from,    alert.to,
          alert.score, alert.event,   alert.time_ms, alert.by_expiry};
}

AlertId alert_id_digits(const AlertView& alert) noexcept {
  // Not `time`: it is the node's event clock when the change was applied,
  // which depends on how the node's batches fell. An event arrives once and
  // expires once, so (subject, event, cause) with the tiers names one change.
  // Fields joined with a byte no tier name, subject or id holds unescaped
  // in a valid event, so two different changes never join to one string.
  StableHasher hasher;
  for (const std::string_view part : {alert.subject, alert.from, alert.to, alert.event}) {
    hasher.add(part).add('\0');
  }
  std::uint64_t hash = hasher.add(alert.by_expiry ? 'x' : 'e').finish();
  static constexpr char kHex[] = "0123456789abcdef";
  AlertId digits;
  for (auto digit = digits.rbegin(); digit != digits.rend(); ++digit, hash >>= 4) {
    *digit = kHex[hash & 0xF];
  }
  return digits;
}

std::string alert_id(const AlertBody& alert) {
  const AlertId digits = alert_id_digits(view_of(alert));
  return {digits.data(), digits.size()};
}

std::string to_json(const AlertBody& alert) {
  std::string out;
  append_alert_json(out, view_of(alert));
  return out;
}

void append_alert_json(std::string& out, const AlertView& alert) {
  // Written by hand rather than with JsonWriter: the shape is fixed and the
  // daemon writes one per tier change, so the keys and punctuation go in as
  // literals. The strings still go through append_json_string, the one place
  // that escapes. The text is what JsonWriter wrote for these fields in this
  // order; AnAlertBodyIsWrittenAsItAlwaysWas holds it to that.
  const auto integer = [&out](auto number) {
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, number).ptr);
  };
  out.append(R"({"seq":)");
  integer(alert.seq);
  const AlertId id = alert_id_digits(alert);
  out.append(R"(,"id":")").append(id.data(), id.size()).append(R"(","subject":)");
  append_json_string(out, alert.subject);
  out.append(R"(,"from":)");
  append_json_string(out, alert.from);
  out.append(R"(,"to":)");
  append_json_string(out, alert.to);
  out.append(R"(,"score":)");
  integer(alert.score);
  out.append(R"(,"event":)");
  append_json_string(out, alert.event);
  out.append(R"(,"time":")");
  append_rfc3339_ms(out, alert.time_ms);
  out.append(alert.by_expiry ? R"(","cause":"expiry"})" : R"(","cause":"event"})");
}

std::string alerts_json(const std::vector<std::string_view>& bodies, std::uint64_t next,
                        std::uint64_t oldest, std::uint64_t last, std::uint64_t missed) {
  return json_object([&](JsonWriter& json) {
    json.key("alerts").begin_array();
    for (const std::string_view body : bodies) json.raw(body);
    json.end_array();
    json.field("next", next).field("oldest", oldest).field("last", last);
    json.field("missed", missed);
  });
}

}  // namespace tally::api
