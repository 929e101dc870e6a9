// The query protocol's answers (api/protocol.h has the requests), each a
// typed value with one JSON form: tallyd writes it with to_json; a client
// reads it back with parse_answer<T>. The field order of every answer is
// fixed (integration tests and scripts read it); docs/client.md shows each
// one and a test checks that every field written here is there.
//
// Times are epoch milliseconds here and RFC 3339 strings in JSON
// ("2025-03-01T00:00:00Z", milliseconds when not 0); kNever is null.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/protocol.h"
#include "core/event.h"
#include "core/status.h"

namespace tally::api {

// {"subject","score","tier","events","at"}: the score at `at` (clamped), the
// tier it falls in ("" below the lowest tier), and how many contributions
// count then. An unknown subject has the base score and 0 events.
struct ScoreAnswer {
  static constexpr Op kOp = Op::kScore;  // the op it answers
  std::string subject;
  std::int64_t score = 0;
  std::string tier;
  std::uint32_t events = 0;
  std::int64_t at_ms = 0;
};

// How a contribution was revoked (explain's "revoked" list).
struct Revocation {
  std::string by;          // "revoked_by": the revoke event's id
  std::string source;      // "revoke_source"
  std::string reason;      // "revoke_reason": the revoke's attrs.reason
  std::int64_t at_ms = 0;  // "revoked_at": the revoke event's time
  std::string client;      // "revoke_client": who sent it, authenticated (tallyd --auth)
};

// {"id","type","points","time","expires","source","rules_version"} and, when
// revoked, {"revoked_by","revoke_source","revoke_reason","revoked_at"}, then
// "revoke_client" when the revoke came through tallyd --auth (the client's
// name from the auth file, beside the self-declared source).
struct Contribution {
  std::string id;
  std::string type;  // the rule it was scored by
  std::int64_t points = 0;
  std::int64_t time_ms = 0;
  std::int64_t expires_ms = kNever;
  std::string source;
  std::uint32_t rules_version = 0;  // the rules version it was scored under
  bool revoked = false;
  Revocation revocation;  // when revoked
};

// A revoke whose event has not been seen: {"id","revokes","source","reason","time"}
// and "client" as for a revocation.
struct PendingRevoke {
  std::string id;
  std::string revokes;  // the id of the event it cancels
  std::string source;
  std::string reason;
  std::int64_t time_ms = 0;
  std::string client;  // the authenticated sender (tallyd --auth); "" without
};

// The score's fields, then "contributions" (counting at `at`), "inactive"
// (expired or not yet in force, within retention), "revoked" and
// "pending_revokes".
struct ExplainAnswer {
  static constexpr Op kOp = Op::kExplain;  // the op it answers
  ScoreAnswer score;
  std::vector<Contribution> contributions;
  std::vector<Contribution> inactive;
  std::vector<Contribution> revoked;
  std::vector<PendingRevoke> pending_revokes;
};

// One moment a subject's record changed. Which fields an entry carries
// depends on `what` (the JSON writes only those, in this order):
//   accepted        id, type, points, rules_version, source, expires, revoked (only if true), score
//   revoked         id, by, source, reason, [client,] score
//   expired/expires id, points (the negative of the event's), score
//   revoke_pending  id, revokes, source, reason, [client]
// (client: the revoke's authenticated sender, when it came through --auth)
//   tier            from, to, cause (an event id), by_expiry, score
struct TimelineEntry {
  enum class What : std::uint8_t { kAccepted, kRevoked, kExpired, kExpires, kRevokePending, kTier };
  static constexpr std::array<std::string_view, 6> kWhatNames = {
      "accepted", "revoked", "expired", "expires", "revoke_pending", "tier"};

  // Every member has an initializer, so that an entry can be written with
  // designated initializers naming only its kind's fields.
  std::int64_t time_ms = 0;
  What what = What::kAccepted;
  std::string id{};
  std::string type{};
  std::int64_t points = 0;
  std::uint32_t rules_version = 0;
  std::string source{};
  std::int64_t expires_ms = kNever;
  bool revoked = false;
  std::string by{};
  std::string reason{};
  std::string client{};
  std::string revokes{};
  std::string from{};
  std::string to{};
  std::string cause{};
  bool by_expiry = false;
  std::int64_t score = 0;  // just after this moment (not for revoke_pending)
};
std::string_view to_string(TimelineEntry::What what) noexcept;

// The score's fields (at now), then "timeline": every entry in time order.
struct HistoryAnswer {
  static constexpr Op kOp = Op::kHistory;  // the op it answers
  ScoreAnswer score;
  std::vector<TimelineEntry> timeline;
};

// {"order","n","at","subjects":[{"subject","score","tier"}]}: ties by subject.
struct RankedSubject {
  std::string subject;
  std::int64_t score = 0;
  std::string tier;
};
struct TopAnswer {
  static constexpr Op kOp = Op::kTop;  // the op it answers
  Order order = Order::kHighest;
  std::uint64_t n = kDefaultTopN;
  std::int64_t at_ms = 0;
  std::vector<RankedSubject> subjects;
};

// One worker's line of the stats answer.
struct WorkerStats {
  std::uint32_t worker = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t subjects = 0;
  std::uint64_t queue_depth = 0;
  double busy_seconds = 0;  // written with 6 decimals
  std::uint64_t memory_bytes = 0;
  std::uint64_t recovered = 0;  // records replayed at start
  // "journal": {"records","bytes","syncs","errors","pending_bytes"}
  std::uint64_t journal_records = 0;
  std::uint64_t journal_bytes = 0;
  std::uint64_t journal_syncs = 0;
  std::uint64_t journal_errors = 0;
  std::uint64_t journal_pending_bytes = 0;
};

// The totals a load driver or a test polls to know when tallyd has applied
// everything it was sent.
struct StatsTotals {
  std::uint64_t received = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  // Events whose fate is settled: accepted, duplicate or rejected.
  std::uint64_t processed() const { return accepted + duplicates + rejected; }
};

// {"received","accepted","duplicates","rejected_total","rejected":{reason:count},
//  "subjects","rules_version","workers":[...]}; "rejected" names every reject
// reason, 0 or not.
struct StatsAnswer {
  static constexpr Op kOp = Op::kStats;  // the op it answers
  std::uint64_t received = 0;            // lines decoded by ingest
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected_total = 0;
  std::vector<std::pair<std::string, std::uint64_t>> rejected;  // by reason
  std::uint64_t subjects = 0;
  std::uint32_t rules_version = 0;
  std::vector<WorkerStats> workers;

  StatsTotals totals() const { return {received, accepted, duplicates, rejected_total}; }
};

// {"reloaded":true,"version","rules","file"} or, refused,
// {"reloaded":false,"error":{"code":"rules_refused","message","file","line","column","reason"}}
// ("message" is "FILE:LINE:COLUMN: REASON").
struct ReloadAnswer {
  static constexpr Op kOp = Op::kReload;  // the op it answers
  bool reloaded = false;
  std::uint32_t version = 0;  // reloaded: the new rules version
  std::uint64_t rules = 0;    // reloaded: how many rules it has
  std::string file;           // the rules file
  Status refusal;             // refused: why, with its place in the file

  static ReloadAnswer loaded(std::uint32_t version, std::uint64_t rules, std::string file);
  static ReloadAnswer refused(Status why);
};

// One worker's line of the workers answer.
struct WorkerLoad {
  std::uint32_t worker = 0;
  double utilisation = 0;  // busy share over the last second, 0..1 (3 decimals)
  std::uint64_t queue_depth = 0;
  std::uint64_t subjects = 0;
  std::uint32_t key_groups = 0;
};

// The latest worker-count change: "state" is "running", "done" or "failed"
// (then "error" says why); times in seconds with 3 decimals.
struct RescaleStatus {
  std::string state;
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::uint32_t groups_total = 0;
  std::uint32_t groups_moved = 0;
  std::uint64_t subjects_moved = 0;
  double seconds = 0;
  double longest_pause_seconds = 0;
  std::string error;
};

// {"workers":N,"per_worker":[{"worker","utilisation","queue_depth","subjects",
//  "key_groups"}...][,"rescale":{"state","from","to","groups_total","groups_moved",
//  "subjects_moved","seconds","longest_pause_seconds"[,"error"]}]}: "rescale"
// only once a change was asked since start. Asked with "set", the answer
// comes at once, with the change "running": poll {"op":"workers"} to follow it.
struct WorkersAnswer {
  static constexpr Op kOp = Op::kWorkers;  // the op it answers
  std::uint32_t workers = 0;
  std::vector<WorkerLoad> per_worker;
  std::optional<RescaleStatus> rescale;
};

// {"snapshot","records","bytes","seconds","longest_pause_seconds"}: the
// snapshot's generation, its size, and times written with 3 decimals.
struct SnapshotAnswer {
  static constexpr Op kOp = Op::kSnapshot;  // the op it answers
  std::uint64_t snapshot = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  double longest_pause_seconds = 0;
};

// The impact of a proposed rules file (op "impact"): every subject scored
// now and under the proposal, at `at`.
//   {"file","at","seconds","subjects","changed_score","changed_tier",
//    "tiers_now":[names],"tiers_proposed":[names],
//    "transitions":[{"from","to","count"}...],      tier now -> tier proposed, count > 0
//    "delta":{"min","p25","median","p75","max","up","down"},   proposed - now
//    "top":[{"subject","score_now","score_proposed","tier_now","tier_proposed","types":[...]}],
//    "types":[{"type","events_now","events_proposed","points_now","points_proposed",
//              "in_proposal","stored","in_current"}...],
//    "rows":[{"subject","score_now","score_proposed","tier_now","tier_proposed"}...]}
// "" is the tier of a score below every tier. "rows" only when asked for
// (each subject of the key groups asked whose score or tier changes).
// "in_proposal": false for a stored type the proposal does not name (it
// counts 0 there); "stored": false for a proposed type no stored event has;
// "in_current": false for a type the live rules do not name.
struct ImpactTransition {
  std::string from;
  std::string to;
  std::uint64_t count = 0;
};
struct ImpactRow {
  std::string subject;
  std::int64_t score_now = 0;
  std::int64_t score_proposed = 0;
  std::string tier_now;
  std::string tier_proposed;
};
struct ImpactSubject : ImpactRow {
  std::vector<std::string> types;  // the event types whose terms moved it
};
struct ImpactType {
  std::string type;
  std::uint64_t events_now = 0;  // contributions counting at `at`
  std::uint64_t events_proposed = 0;
  std::int64_t points_now = 0;
  std::int64_t points_proposed = 0;
  bool in_proposal = true;
  bool stored = true;
  bool in_current = true;  // the live rules name it
};
struct ImpactDelta {
  std::int64_t min = 0;
  std::int64_t p25 = 0;
  std::int64_t median = 0;
  std::int64_t p75 = 0;
  std::int64_t max = 0;
  std::uint64_t up = 0;
  std::uint64_t down = 0;
};
struct ImpactAnswer {
  static constexpr Op kOp = Op::kImpact;  // the op it answers
  std::string file;
  std::int64_t at_ms = 0;
  double seconds = 0;  // written with 3 decimals
  std::uint64_t subjects = 0;
  std::uint64_t changed_score = 0;
  std::uint64_t changed_tier = 0;
  std::vector<std::string> tiers_now;
  std::vector<std::string> tiers_proposed;
  std::vector<ImpactTransition> transitions;
  ImpactDelta delta;
  std::vector<ImpactSubject> top;
  std::vector<ImpactType> types;
  std::optional<std::vector<ImpactRow>> rows;
};

// A tier-change alert: the body the alerts socket publishes (its first frame
// is the tier entered, `to`) and the alert log keeps:
//   {"seq","id","subject","from","to","score","event","time","cause"}
// `seq` numbers a daemon's alerts 1, 2, 3... across restarts (a jump means
// alerts were missed: the alerts op has them); "" is the tier below every
// tier; `event` caused the change, by arriving ("cause":"event") or by
// expiring ("cause":"expiry"); `time` is when. `id` (alert_id) names the
// tier change itself, the same on every node that saw it: replicas of a
// cluster number their alerts each on its own, and a consumer of several
// keeps one alert per id.
struct AlertBody {
  std::uint64_t seq = 0;
  std::string subject;
  std::string from;
  std::string to;
  std::int64_t score = 0;
  std::string event;
  std::int64_t time_ms = 0;
  bool by_expiry = false;
  friend bool operator==(const AlertBody&, const AlertBody&) = default;
};

// The same fields as views into text someone else keeps: what the daemon
// writes an alert from (a worker's fixed-size alert) without first copying
// its strings into an AlertBody, once per tier change.
struct AlertView {
  std::uint64_t seq = 0;
  std::string_view subject;
  std::string_view from;
  std::string_view to;
  std::int64_t score = 0;
  std::string_view event;
  std::int64_t time_ms = 0;
  bool by_expiry = false;
};
AlertView view_of(const AlertBody& alert) noexcept;

// {"alerts":[bodies],"next","oldest","last","missed"}: alerts from the log in
// seq order; `next` is the seq to ask for next (one past the last returned),
// `oldest` the oldest seq the log keeps, `last` the newest (0: none yet), and
// `missed` how many of the alerts asked for are gone (dropped by retention:
// `since` was older than `oldest`).
struct AlertsAnswer {
  static constexpr Op kOp = Op::kAlerts;  // the op it answers
  std::vector<AlertBody> alerts;
  std::uint64_t next = 0;
  std::uint64_t oldest = 0;
  std::uint64_t last = 0;
  std::uint64_t missed = 0;
};

// {"error":{"code","message"}}: a refusal (error_code_of) as tallyd answers
// it. Any other failure is a bug and is answered as bad_request.
std::string error_json(const Status& refusal);

// A `moved` refusal: a cluster node (tallyd --nats --partitions SET) asked
// about a subject whose partition it does not own.
//   {"error":{"code":"moved","message","partition","owners":[node names]}}
// `owners`: the nodes that own the partition, as the node last saw the
// stream's consumers (tally_<node>_p<partition>); empty when it knows none.
// The message says the same for people. A client that reads only "code" and
// "message" reads it as any error.
struct MovedError {
  std::string message;
  std::uint32_t partition = 0;
  std::vector<std::string> owners;
};
std::string to_json(const MovedError& moved);
// The moved error in an answer; invalid_argument when the answer is not one.
Result<MovedError> parse_moved(std::string_view json);

std::string to_json(const ScoreAnswer& answer);
std::string to_json(const ExplainAnswer& answer);
std::string to_json(const HistoryAnswer& answer);
std::string to_json(const TopAnswer& answer);
std::string to_json(const StatsAnswer& answer);
std::string to_json(const ReloadAnswer& answer);
std::string to_json(const WorkersAnswer& answer);
std::string to_json(const SnapshotAnswer& answer);
std::string to_json(const ImpactAnswer& answer);
std::string to_json(const AlertBody& alert);
// to_json's text appended to `out`: no allocation once `out` has the room
// (the daemon reuses one buffer for every alert it publishes).
void append_alert_json(std::string& out, const AlertView& alert);
// 16 hex digits: a hash of what defines the tier change (subject, from, to,
// event, cause); not of `seq`, which each node numbers, nor of `time`.
std::string alert_id(const AlertBody& alert);
// The same digits, without allocating.
using AlertId = std::array<char, 16>;
AlertId alert_id_digits(const AlertView& alert) noexcept;
// The bodies are written as given: each is an AlertBody's JSON (the log keeps them so).
std::string alerts_json(const std::vector<std::string_view>& bodies, std::uint64_t next,
                        std::uint64_t oldest, std::uint64_t last, std::uint64_t missed);
// One alert body (as published or logged); invalid_argument if it is not one.
Result<AlertBody> parse_alert(std::string_view json);

// Reads an answer back (Answer: any of the above). An {"error":...} answer
// (a refused reload too) comes back as its refusal: error_code_of gives the
// code, message() the message; a code this client does not know comes back
// as invalid_argument "CODE: MESSAGE". Text that is not such an answer is
// invalid_argument.
template <typename Answer>
Result<Answer> parse_answer(std::string_view json);

}  // namespace tally::api
