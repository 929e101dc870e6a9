// Reading answers back (clients: `tally`, tally-bench, tests), with simdjson.
#include <simdjson.h>

#include <limits>

#include "api/answers.h"
#include "core/event_time.h"

namespace tally::api {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Reads an object's fields into typed values; the first field that is
// missing (when required) or of the wrong type makes the whole read fail.
class Fields {
 public:
  explicit Fields(object fields) : object_(fields) {}

  bool ok() const { return ok_; }
  void fail() { ok_ = false; }

  // Required fields.
  template <typename T>
  Fields& read(std::string_view key, T& out) {
    element value;
    if (object_[key].get(value) != simdjson::SUCCESS || !convert(value, out)) ok_ = false;
    return *this;
  }
  // A time: an RFC 3339 string, or null for kNever.
  Fields& time(std::string_view key, std::int64_t& out_ms) {
    element value;
    std::string_view text;
    std::optional<std::int64_t> ms;
    if (object_[key].get(value) != simdjson::SUCCESS) {
      ok_ = false;
    } else if (value.is_null()) {
      out_ms = kNever;
    } else if (value.get_string().get(text) == simdjson::SUCCESS && (ms = parse_rfc3339_ms(text))) {
      out_ms = *ms;
    } else {
      ok_ = false;
    }
    return *this;
  }
  // Fields an answer may leave out: absent keeps `out`; present must convert.
  template <typename T>
  Fields& optional(std::string_view key, T& out) {
    if (has(key)) read(key, out);
    return *this;
  }
  bool has(std::string_view key) { return object_[key].error() == simdjson::SUCCESS; }
  // An array of objects, each read by `read_one(Fields&, Item&)`.
  template <typename Item, typename ReadOne>
  Fields& list(std::string_view key, std::vector<Item>& out, ReadOne read_one) {
    array items;
    if (object_[key].get_array().get(items) != simdjson::SUCCESS) {
      ok_ = false;
      return *this;
    }
    for (element item : items) {
      object fields;
      if (item.get_object().get(fields) != simdjson::SUCCESS) {
        ok_ = false;
        break;
      }
      Fields reader(fields);
      read_one(reader, out.emplace_back());
      if (!reader.ok()) ok_ = false;
    }
    return *this;
  }
  object& raw() { return object_; }

 private:
  static bool convert(element value, std::string& out) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return false;
    out.assign(text);
    return true;
  }
  static bool convert(element value, std::int64_t& out) {
    return value.get_int64().get(out) == simdjson::SUCCESS;
  }
  static bool convert(element value, std::uint64_t& out) {
    return value.get_uint64().get(out) == simdjson::SUCCESS;
  }
  static bool convert(element value, std::uint32_t& out) {
    std::uint64_t wide = 0;
    if (value.get_uint64().get(wide) != simdjson::SUCCESS ||
        wide > std::numeric_limits<std::uint32_t>::max()) {
      return false;
    }
    out = static_cast<std::uint32_t>(wide);
    return true;
  }
  static bool convert(element value, double& out) {
    return value.get_double().get(out) == simdjson::SUCCESS;
  }
  static bool convert(element value, bool& out) {
    return value.get_bool().get(out) == simdjson::SUCCESS;
  }
  static bool convert(element value, std::vector<std::string>& out) {
    simdjson::dom::array items;
    if (value.get_array().get(items) != simdjson::SUCCESS) return false;
    for (element item : items) {
      if (!convert(item, out.emplace_back())) return false;
    }
    return true;
  }

  object object_;
  bool ok_ = true;
};

template <std::size_t N>
bool enum_named(const std::array<std::string_view, N>& names, std::string_view name,
                std::size_t& index) {
  for (index = 0; index < N; ++index) {
    if (names[index] == name) return true;
  }
  return false;
}

void read_score(Fields& f, ScoreAnswer& a) {
  f.read("subject", a.subject).read("score", a.score).read("tier", a.tier);
  f.read("events", a.events).time("at", a.at_ms);
}

void read_contribution(Fields& f, Contribution& c) {
  f.read("id", c.id).read("type", c.type).read("points", c.points).time("time", c.time_ms);
  f.time("expires", c.expires_ms).read("source", c.source).read("rules_version", c.rules_version);
  c.revoked = f.has("revoked_by");
  if (c.revoked) {
    f.read("revoked_by", c.revocation.by).read("revoke_source", c.revocation.source);
    f.read("revoke_reason", c.revocation.reason).time("revoked_at", c.revocation.at_ms);
    f.optional("revoke_client", c.revocation.client);
  }
}

void read_pending(Fields& f, PendingRevoke& r) {
  f.read("id", r.id).read("revokes", r.revokes).read("source", r.source);
  f.read("reason", r.reason).time("time", r.time_ms).optional("client", r.client);
}

void read_entry(Fields& f, TimelineEntry& e) {
  std::string what;
  std::size_t index = 0;
  f.time("time", e.time_ms).read("what", what);
  if (!enum_named(TimelineEntry::kWhatNames, what, index)) {
    f.fail();
    return;
  }
  e.what = static_cast<TimelineEntry::What>(index);
  f.optional("id", e.id).optional("type", e.type).optional("points", e.points);
  f.optional("rules_version", e.rules_version).optional("source", e.source);
  if (f.has("expires")) f.time("expires", e.expires_ms);
  f.optional("revoked", e.revoked).optional("by", e.by).optional("reason", e.reason);
  f.optional("client", e.client);
  f.optional("revokes", e.revokes).optional("from", e.from).optional("to", e.to);
  f.optional("cause", e.cause).optional("by_expiry", e.by_expiry).optional("score", e.score);
}

void read_worker(Fields& f, WorkerStats& w) {
  f.read("worker", w.worker).read("accepted", w.accepted).read("duplicates", w.duplicates);
  f.read("subjects", w.subjects).read("queue_depth", w.queue_depth);
  f.read("busy_seconds", w.busy_seconds).read("memory_bytes", w.memory_bytes);
  f.read("recovered", w.recovered);
  object journal;
  if (f.raw()["journal"].get_object().get(journal) != simdjson::SUCCESS) {
    f.fail();
    return;
  }
  Fields j(journal);
  j.read("records", w.journal_records).read("bytes", w.journal_bytes);
  j.read("syncs", w.journal_syncs).read("errors", w.journal_errors);
  j.read("pending_bytes", w.journal_pending_bytes);
  if (!j.ok()) f.fail();
}

bool read(Fields& f, ScoreAnswer& a) {
  read_score(f, a);
  return f.ok();
}

bool read(Fields& f, ExplainAnswer& a) {
  read_score(f, a.score);
  f.list("contributions", a.contributions, read_contribution);
  f.list("inactive", a.inactive, read_contribution);
  f.list("revoked", a.revoked, read_contribution);
  f.list("pending_revokes", a.pending_revokes, read_pending);
  return f.ok();
}

bool read(Fields& f, HistoryAnswer& a) {
  read_score(f, a.score);
  f.list("timeline", a.timeline, read_entry);
  return f.ok();
}

bool read(Fields& f, TopAnswer& a) {
  std::string order;
  std::size_t index = 0;
  f.read("order", order).read("n", a.n).time("at", a.at_ms);
  if (!enum_named(kOrderNames, order, index)) return false;
  a.order = static_cast<Order>(index);
  f.list("subjects", a.subjects, [](Fields& s, RankedSubject& r) {
    s.read("subject", r.subject).read("score", r.score).read("tier", r.tier);
  });
  return f.ok();
}

// Read leniently, for load drivers that may talk to another version: only
// "accepted" and "duplicates" are required; without "rejected_total", the
// sum of "rejected".
bool read(Fields& f, StatsAnswer& a) {
  f.read("accepted", a.accepted).read("duplicates", a.duplicates);
  f.optional("received", a.received).optional("subjects", a.subjects);
  f.optional("rules_version", a.rules_version);
  object reasons;
  if (f.raw()["rejected"].get_object().get(reasons) == simdjson::SUCCESS) {
    std::uint64_t sum = 0;
    for (auto [reason, count] : reasons) {
      std::uint64_t n = 0;
      if (count.get_uint64().get(n) != simdjson::SUCCESS) return false;
      a.rejected.emplace_back(std::string(reason), n);
      sum += n;
    }
    a.rejected_total = sum;
  }
  f.optional("rejected_total", a.rejected_total);
  if (f.has("workers")) f.list("workers", a.workers, read_worker);
  return f.ok();
}

bool read(Fields& f, ReloadAnswer& a) {
  f.read("reloaded", a.reloaded);
  if (!a.reloaded) return false;  // a refusal carries "error", read before
  f.read("version", a.version).read("rules", a.rules).read("file", a.file);
  return f.ok();
}

void read_worker_load(Fields& f, WorkerLoad& w) {
  f.read("worker", w.worker).read("utilisation", w.utilisation);
  f.read("queue_depth", w.queue_depth).read("subjects", w.subjects);
  f.read("key_groups", w.key_groups);
}

bool read(Fields& f, WorkersAnswer& a) {
  f.read("workers", a.workers);
  if (f.has("per_worker")) f.list("per_worker", a.per_worker, read_worker_load);
  object rescale;
  if (f.raw()["rescale"].get_object().get(rescale) == simdjson::SUCCESS) {
    Fields r(rescale);
    RescaleStatus& status = a.rescale.emplace();
    r.read("state", status.state).read("from", status.from).read("to", status.to);
    r.read("groups_total", status.groups_total).read("groups_moved", status.groups_moved);
    r.read("subjects_moved", status.subjects_moved).read("seconds", status.seconds);
    r.read("longest_pause_seconds", status.longest_pause_seconds);
    r.optional("error", status.error);
    if (!r.ok()) f.fail();
  }
  return f.ok();
}

bool read(Fields& f, SnapshotAnswer& a) {
  f.read("snapshot", a.snapshot).read("records", a.records).read("bytes", a.bytes);
  f.read("seconds", a.seconds).read("longest_pause_seconds", a.longest_pause_seconds);
  return f.ok();
}

void read_impact_row(Fields& f, ImpactRow& row) {
  f.read("subject", row.subject).read("score_now", row.score_now);
  f.read("score_proposed", row.score_proposed).read("tier_now", row.tier_now);
  f.read("tier_proposed", row.tier_proposed);
}

bool read(Fields& f, ImpactAnswer& a) {
  f.read("file", a.file).time("at", a.at_ms).read("seconds", a.seconds);
  f.read("subjects", a.subjects).read("changed_score", a.changed_score);
  f.read("changed_tier", a.changed_tier);
  f.read("tiers_now", a.tiers_now).read("tiers_proposed", a.tiers_proposed);
  f.list("transitions", a.transitions, [](Fields& t, ImpactTransition& out) {
    t.read("from", out.from).read("to", out.to).read("count", out.count);
  });
  object delta;
  if (f.raw()["delta"].get_object().get(delta) != simdjson::SUCCESS) return false;
  Fields d(delta);
  d.read("min", a.delta.min).read("p25", a.delta.p25).read("median", a.delta.median);
  d.read("p75", a.delta.p75).read("max", a.delta.max).read("up", a.delta.up);
  d.read("down", a.delta.down);
  if (!d.ok()) return false;
  f.list("top", a.top, [](Fields& t, ImpactSubject& out) {
    read_impact_row(t, out);
    t.read("types", out.types);
  });
  f.list("types", a.types, [](Fields& t, ImpactType& out) {
    t.read("type", out.type).read("events_now", out.events_now);
    t.read("events_proposed", out.events_proposed).read("points_now", out.points_now);
    t.read("points_proposed", out.points_proposed).read("in_proposal", out.in_proposal);
    t.read("stored", out.stored).read("in_current", out.in_current);
  });
  if (f.has("rows")) f.list("rows", a.rows.emplace(), read_impact_row);
  return f.ok();
}

bool read(Fields& f, AlertBody& a) {
  std::string cause;
  f.read("seq", a.seq).read("subject", a.subject).read("from", a.from).read("to", a.to);
  f.read("score", a.score).read("event", a.event).time("time", a.time_ms).read("cause", cause);
  if (cause != "event" && cause != "expiry") f.fail();
  a.by_expiry = cause == "expiry";
  return f.ok();
}

bool read(Fields& f, AlertsAnswer& a) {
  f.list("alerts", a.alerts, [](Fields& item, AlertBody& alert) { read(item, alert); });
  f.read("next", a.next).read("oldest", a.oldest).read("last", a.last).read("missed", a.missed);
  return f.ok();
}

// {"error":{"code","message"}} as its refusal.
Status read_error(element error) {
  std::string_view code, message;
  if (error["code"].get_string().get(code) != simdjson::SUCCESS ||
      error["message"].get_string().get(message) != simdjson::SUCCESS) {
    return Status::invalid_argument("an error answer without a code and a message");
  }
  if (const auto known = error_code_named(code)) return refusal(*known, std::string(message));
  std::string text(code);
  text += ": ";
  text += message;
  return Status::invalid_argument(std::move(text));
}

}  // namespace

template <typename Answer>
Result<Answer> parse_answer(std::string_view json) {
  simdjson::dom::parser parser;
  object fields;
  if (parser.parse(json.data(), json.size()).get_object().get(fields) != simdjson::SUCCESS) {
    return Status::invalid_argument("the answer is not a JSON object: " + std::string(json));
  }
  element error;
  if (fields["error"].get(error) == simdjson::SUCCESS) return read_error(error);
  Fields reader(fields);
  Answer answer;
  if (!read(reader, answer)) {
    return Status::invalid_argument("not a " + std::string(to_string(Answer::kOp)) +
                                    " answer: " + std::string(json));
  }
  return answer;
}

template Result<ScoreAnswer> parse_answer(std::string_view);
template Result<ExplainAnswer> parse_answer(std::string_view);
template Result<HistoryAnswer> parse_answer(std::string_view);
template Result<TopAnswer> parse_answer(std::string_view);
template Result<StatsAnswer> parse_answer(std::string_view);
template Result<ReloadAnswer> parse_answer(std::string_view);
template Result<WorkersAnswer> parse_answer(std::string_view);
template Result<SnapshotAnswer> parse_answer(std::string_view);
template Result<ImpactAnswer> parse_answer(std::string_view);
template Result<AlertsAnswer> parse_answer(std::string_view);

Result<MovedError> parse_moved(std::string_view json) {
  simdjson::dom::parser parser;
  object fields;
  object error;
  std::string_view code;
  if (parser.parse(json.data(), json.size()).get_object().get(fields) != simdjson::SUCCESS ||
      fields["error"].get_object().get(error) != simdjson::SUCCESS ||
      error["code"].get_string().get(code) != simdjson::SUCCESS ||
      code != to_string(ErrorCode::kMoved)) {
    return Status::invalid_argument("not a moved error: " + std::string(json));
  }
  Fields reader(error);
  MovedError moved;
  reader.read("message", moved.message).read("partition", moved.partition);
  reader.optional("owners", moved.owners);
  if (!reader.ok()) return Status::invalid_argument("not a moved error: " + std::string(json));
  return moved;
}

Result<AlertBody> parse_alert(std::string_view json) {
  simdjson::dom::parser parser;
  object fields;
  if (parser.parse(json.data(), json.size()).get_object().get(fields) != simdjson::SUCCESS) {
    return Status::invalid_argument("an alert body is a JSON object");
  }
  Fields reader(fields);
  AlertBody alert;
  if (!read(reader, alert))
    return Status::invalid_argument("not an alert body: " + std::string(json));
  return alert;
}

}  // namespace tally::api
