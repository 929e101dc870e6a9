// The query service: tallyd's answers to the query and admin API. The
// protocol (ops, requests, answers, error codes and their JSON) is api/'s;
// this runs each op on the engine and fills the typed answer. Transport-free:
// the daemon feeds it the bytes from its ROUTER socket; a test calls it
// directly (tests/scorer/query_handler_test.cc).
//
// Each op reaches the worker that owns the subject (or every worker, for top
// and stats) as a command through the worker's queue, so no query ever locks
// or reads a shard from outside its thread.
//
// A cluster node (tallyd --nats --partitions SET) sets its Ownership: a
// query naming a subject whose partition it does not own (score, explain,
// history) is answered `moved`, naming the partition and its owners, instead
// of the base score of an unknown subject. `top` and `stats` count only this
// node's own subjects.
//
// Thread-safety: one QueryHandler per calling thread (it sends on the
// engine's QueueRow::kControl row and keeps one JSON parser).
#pragma once

#include <simdjson.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/answers.h"
#include "api/protocol.h"
#include "core/ingest_counters.h"
#include "core/partitions.h"
#include "core/status.h"
#include "scorer/engine.h"
#include "scorer/rules_impact.h"
#include "storage/alert_log.h"

namespace tally::scorer {

class QueryHandler {
 public:
  // `ingest` may be null (no ingest counters in stats). `while_waiting` runs
  // while a worker is answering (the daemon drains alerts there).
  QueryHandler(Engine& engine, const IngestCounters* ingest,
               std::function<void()> while_waiting = {});

  // One request's JSON in, the answer's JSON out; a request that cannot be
  // answered gets {"error":{"code":...,"message":...}}.
  std::string handle(std::string_view request);
  // A request already parsed (e.g. the daemon's reload on SIGHUP), answered as JSON.
  std::string handle(const api::Request& request);

  // The ops, typed. Failures are api refusals (api::error_code_of).
  api::ScoreAnswer score(const api::ScoreRequest& request);
  api::ExplainAnswer explain(const api::ExplainRequest& request);
  api::HistoryAnswer history(const api::HistoryRequest& request);
  api::TopAnswer top(const api::TopRequest& request);
  api::StatsAnswer stats();
  api::ReloadAnswer reload();
  Result<api::WorkersAnswer> workers(const api::WorkersRequest& request);
  Result<api::SnapshotAnswer> snapshot();
  // Runs the impact of a proposed file to its end (tests, scripts). The
  // daemon uses start_or_answer so that it can answer other requests meanwhile.
  Result<api::ImpactAnswer> impact(const api::ImpactRequest& request);
  // The alerts op reads this log (the daemon's; the caller's thread must be
  // the log's owner). Without one, alerts answers not_supported.
  void set_alert_log(const storage::AlertLog* log) noexcept { alert_log_ = log; }
  // The alerts op's JSON: the bodies are the log's, written as kept.
  Result<std::string> alerts(const api::AlertsRequest& request);

  // For a caller that must not wait on an impact: an impact request starts
  // a job (answered by answer_of once done); anything else is answered now.
  // `permit`, when set, decides whether the request's sender may ask it
  // (tallyd --auth); its refusal is the answer.
  using Reply = std::variant<std::string, std::unique_ptr<ImpactJob>>;
  using Permit = std::function<Status(const api::Request&)>;
  Reply start_or_answer(std::string_view request, const Permit& permit = {});
  // Runs before a reload takes the new rules: a refusal refuses the reload
  // (nothing changes); on success the returned step runs once the rules are
  // in (the daemon re-reads its --auth file this way).
  using ReloadStep = std::function<Result<std::function<void()>>()>;
  void set_reload_step(ReloadStep step) { reload_step_ = std::move(step); }
  static std::string answer_of(const ImpactJob& job);

  // What a cluster node owns. `owners_of` (may be empty) names the nodes
  // that own a partition, as last learnt (it is called on this handler's
  // thread, once per moved answer).
  struct Ownership {
    PartitionSet owned;
    std::string node;
    std::function<std::vector<std::string>(std::uint32_t partition)> owners_of;
  };
  // Unset, or owning every partition: every subject is answered here.
  void set_ownership(Ownership ownership);
  // The moved error for a subject this node does not own; nullopt when it owns it.
  std::optional<api::MovedError> moved(std::string_view subject) const;

 private:
  // score and explain: the subject's answer from its owning worker.
  api::ExplainAnswer subject_answer(const std::string& subject, std::optional<std::int64_t> at_ms,
                                    bool explain);

  Engine& engine_;
  const IngestCounters* ingest_;
  std::function<void()> while_waiting_;
  const storage::AlertLog* alert_log_ = nullptr;
  ReloadStep reload_step_;
  std::optional<Ownership> ownership_;  // set on a cluster node owning part of the partitions
  simdjson::dom::parser parser_;
};

}  // namespace tally::scorer
