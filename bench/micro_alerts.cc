// The control thread's cost per alert, without sockets: writing an alert's
// body (api::append_alert_json, id included) into the reused buffer the
// daemon keeps, and appending that body to an in-memory alert log with a
// commit per batch, as daemon/alert_publisher.cc does once per tier change.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "api/answers.h"
#include "storage/alert_log.h"

namespace tally {
namespace {

constexpr std::size_t kBatch = 1000;  // alerts drained per control-loop turn

// Subjects and events shaped like the load benchmark's.
struct AlertInputs {
  std::vector<std::string> subjects;
  std::vector<std::string> events;
};

const AlertInputs& inputs() {
  static const AlertInputs made = [] {
    AlertInputs inputs;
    for (std::size_t i = 0; i < kBatch; ++i) {
      inputs.subjects.push_back(fmt::format("plate:NY:{:07}", i * 7919));
      inputs.events.push_back(fmt::format("evt-{:010}", i * 104729));
    }
    return inputs;
  }();
  return made;
}

api::AlertView alert_at(std::size_t i) {
  return {i + 1,
          inputs().subjects[i],
          "clear",
          "warning",
          6,
          inputs().events[i],
          1'714'608'000'250 + static_cast<std::int64_t>(i),
          false};
}

void BM_AlertBodyWritten(benchmark::State& state) {
  std::string buffer;
  for (auto _ : state) {
    buffer.clear();
    for (std::size_t i = 0; i < kBatch; ++i) api::append_alert_json(buffer, alert_at(i));
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_AlertBodyWritten);

void BM_AlertBodyLogged(benchmark::State& state) {
  storage::AlertLogOptions options;  // in memory, bounded as the daemon bounds it
  options.max_bytes = 64ULL << 20;
  options.segment_bytes = options.max_bytes / 4;
  auto log = storage::AlertLog::open(storage::Env::posix(), options).value();
  std::string body;
  api::append_alert_json(body, alert_at(0));
  std::uint64_t ordinal = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) log->append(body, {1, 0, ++ordinal}, 0);
    benchmark::DoNotOptimize(log->commit(0));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_AlertBodyLogged);

}  // namespace
}  // namespace tally
