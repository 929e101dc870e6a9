// The query and admin API: one JSON object in, one JSON object out (the
// brief's ops: score, explain, top, stats, reload, workers; and history,
// snapshot). Transport-free:
// the daemon feeds it bytes from its ROUTER socket; a test can call it
// directly.
//
// Each op reaches the worker that owns the subject (or every worker, for top
// and stats) as a command through the worker's queue, so no query ever locks
// or reads a shard from outside its thread.
//
// A request that cannot be answered gets {"error":{"code":C,"message":M}}
// with C one of: bad_request, unknown_op, missing_field, bad_field, bad_time,
// rules_refused, not_supported, snapshot_failed.
//
// Thread-safety: one QueryHandler per calling thread (it uses one Producer row).
#pragma once

#include <simdjson.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "scorer/engine.h"
#include "stream/ingest_counters.h"

namespace tally::scorer {

class QueryHandler {
 public:
  // `ingest` may be null (no ingest counters in stats). `while_waiting` runs
  // while a worker is answering (the daemon drains alerts there).
  QueryHandler(Engine& engine, const stream::IngestCounters* ingest,
               std::function<void()> while_waiting = {});

  std::string handle(std::string_view request);

  // The answer to {"op":"stats"}, also used by `tally stats`.
  std::string stats_json();

 private:
  std::string score(simdjson::dom::object request, bool explain);
  std::string top(simdjson::dom::object request);
  std::string reload();
  std::string workers(simdjson::dom::object request);
  std::string snapshot();
  std::string history(simdjson::dom::object request);
  // The request's `subject`, or nullopt with `error` set to the answer.
  static std::optional<std::string> subject_of(simdjson::dom::object request, std::string& error);

  Engine& engine_;
  const stream::IngestCounters* ingest_;
  std::function<void()> while_waiting_;
  simdjson::dom::parser parser_;
};

// {"error":{"code":...,"message":...}}
std::string error_json(std::string_view code, std::string_view message);

}  // namespace tally::scorer
