// The expiry sweep's cost: every `--expiry-sweep` interval a worker walks its
// shard looking for tier changes caused by expiries (shard_worker.h). This
// measures one such walk over a million subjects holding one or two
// contributions each, with no expiry in the window (the usual case) and with
// a window in which every subject has one expiry.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "scorer/rules.h"
#include "scorer/subject_table.h"
#include "scorer/tier_changes.h"

namespace tally::scorer {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kStartMs = 1'546'300'800'000;  // 2019-01-01T00:00:00Z

const RuleSet& sweep_rules() {
  static const std::shared_ptr<const RuleSet> rules = parse_rules(
                                                          R"(
[rules.speeding]
points = 4
expires_after = "548d"
[[tier]]
name = "clear"
min = 0
[[tier]]
name = "watch"
min = 6
)",
                                                          "micro_sweep.toml", 1)
                                                          .value();
  return *rules;
}

// A million subjects; even ones hold two contributions a day apart.
SubjectTable& filled_table() {
  static SubjectTable* const table = [] {
    static InternTable interns;
    auto* filled = new SubjectTable(interns);
    const auto* terms = sweep_rules().resolve("speeding");
    for (std::int64_t s = 0; s < 1'000'000; ++s) {
      for (int k = 0; k < (s % 2 == 0 ? 2 : 1); ++k) {
        Event event;
        event.id.assign(fmt::format("ev:{}:{}", s, k));
        event.subject.assign(fmt::format("plate:NY:{:07}", s));
        event.source.assign("TRAFFIC");
        event.type = terms;
        event.time_ms = kStartMs + (s % 300) * kDayMs + k * kDayMs;
        filled->apply(event);
      }
    }
    return filled;
  }();
  return *table;
}

void BM_ExpirySweep(benchmark::State& state) {
  const SubjectTable& table = filled_table();
  const RuleSet& rules = sweep_rules();
  TierChangeFinder finder;
  // Arg 0: a 10-second window in which nothing expires. Arg 1: a window
  // covering every expiry (each subject scored at each instant).
  const bool every_expiry = state.range(0) == 1;
  const std::int64_t after = every_expiry ? kStartMs : kStartMs + 100 * kDayMs;
  const std::int64_t until = every_expiry ? kStartMs + 1000 * kDayMs : after + 10'000;
  std::uint64_t changes = 0;
  for (auto _ : state) {
    table.for_each_subject([&](const SubjectState& subject) {
      finder.find(table, subject, rules, after, until, TierChangeFinder::Causes::kExpiriesOnly,
                  [&](const TierChange&) { ++changes; });
    });
  }
  benchmark::DoNotOptimize(changes);
  state.counters["subjects_per_second"] = benchmark::Counter(
      static_cast<double>(table.subjects()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ExpirySweep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tally::scorer
