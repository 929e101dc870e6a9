// Micro-benchmarks of the scoring core (SubjectTable) over a million subjects:
//
//   BM_ApplyNewSubject          an event for a subject not seen before
//   BM_ApplySecondContribution  an event for a subject holding one contribution
//   BM_ApplyDuplicate           a resent event (its id already seen)
//   BM_ScoreAt                  the score of a subject already found
//   BM_FindAndScoreAt           the score of a subject by name (what `score` does)
//   BM_MemoryPerSubject         bytes a subject costs at rest, with 1 or 2
//                               contributions: memory_bytes() and measured RSS
//   BM_OneSubjectHistory        N events (in random time order) for one subject,
//                               scored before and after each as the worker does,
//                               with the subject indexed (as tallyd does) and
//                               without (a pass over the subject per event),
//                               in random and in time order; against the same
//                               N events for N subjects
//
// The apply benchmarks run with and without prefetch() 8 events ahead.
//
// Events are shaped like samples/nyc-camera-sample.ndjson: subjects like
// `plate:NY:GTL2395` (16 bytes), ids like `nyc:8713423459` (14 bytes), sources
// weighted as in the sample (`TRAFFIC`, `DEPARTMENT OF TRANSPORTATION`, ...).
// Events are built before timing starts; the worker reads them from its queue
// in the same fixed-size form.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "scorer/rules.h"
#include "scorer/subject_table.h"

namespace tally::scorer {
namespace {

constexpr std::size_t kSubjects = 1'000'000;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kStartMs = 1'546'300'800'000;  // 2019-01-01T00:00:00Z

struct Workload {
  std::deque<Rule> rules;  // a deque: events point at its elements
  InternTable interns;     // shared by every table built, as an engine's workers share one
  // One event per subject, subjects in random order. set_ids(round) rewrites
  // the ids, so that a second round adds contributions instead of duplicates.
  std::vector<Event> events;
  std::vector<std::uint64_t> id_numbers;  // per event, the id of round 0
};

Rule make_rule(std::string name, std::int32_t points, std::int64_t expires_after_ms) {
  Rule rule;
  rule.name = std::move(name);
  rule.points = points;
  rule.expires_after_ms = expires_after_ms;
  rule.rules_version = 1;
  return rule;
}

std::string id_for(const Workload& workload, std::size_t event, int round) {
  const std::uint64_t number =
      (workload.id_numbers[event] + static_cast<std::uint64_t>(round) * 7'777'777'777ULL) %
      10'000'000'000ULL;
  return fmt::format("nyc:{:010}", number);
}

void set_ids(Workload& workload, int round) {
  for (std::size_t i = 0; i < workload.events.size(); ++i) {
    workload.events[i].id.assign(id_for(workload, i, round));
  }
}

void fill_workload(Workload* w) {
  w->rules.push_back(make_rule("red_light", 3, 540 * kDayMs));
  w->rules.push_back(make_rule("speeding", 4, 540 * kDayMs));
  w->rules.push_back(make_rule("no_standing", 1, 365 * kDayMs));
  w->rules.push_back(make_rule("assist_police", -2, kNever));
  struct WeightedSource {
    const char* name;
    int weight;
  };
  const WeightedSource sources[] = {{"TRAFFIC", 337},         {"DEPARTMENT OF TRANSPORTATION", 144},
                                    {"nyc-oath", 22},         {"OTHER/UNKNOWN AGENCIES", 10},
                                    {"POLICE DEPARTMENT", 3}, {"DEPARTMENT OF SANITATION", 2},
                                    {"PARKS DEPARTMENT", 1}};
  std::vector<const char*> source_pool;
  for (const auto& source : sources)
    source_pool.insert(source_pool.end(), source.weight, source.name);

  std::mt19937_64 random(42);
  w->events.resize(kSubjects);
  w->id_numbers.resize(kSubjects);
  for (std::size_t i = 0; i < kSubjects; ++i) {
    Event& event = w->events[i];
    const auto letters = static_cast<std::uint32_t>(i / 10000);  // < 26^3
    event.subject.assign(fmt::format("plate:NY:{}{}{}{:04}", static_cast<char>('A' + letters / 676),
                                     static_cast<char>('A' + letters / 26 % 26),
                                     static_cast<char>('A' + letters % 26), i % 10000));
    event.source.assign(source_pool[random() % source_pool.size()]);
    event.type = &w->rules[random() % w->rules.size()];
    event.time_ms = kStartMs + static_cast<std::int64_t>(random() % (365 * kDayMs));
    event.subject_hash = 0;  // the table hashes the subject itself
    w->id_numbers[i] = random() % 10'000'000'000ULL;
  }
  std::shuffle(w->events.begin(), w->events.end(), random);
  set_ids(*w, 0);
}

Workload& workload() {
  static Workload built;
  if (built.events.empty()) fill_workload(&built);
  return built;
}

std::unique_ptr<SubjectTable> filled_table(Workload& w, int contributions) {
  auto table = std::make_unique<SubjectTable>(w.interns);
  for (int round = 0; round < contributions; ++round) {
    set_ids(w, round);
    for (const auto& event : w.events) table->apply(event);
  }
  set_ids(w, 0);
  return table;
}

std::size_t rss_bytes() {
  long pages_total = 0;
  long pages_resident = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(statm);
  }
  return static_cast<std::size_t>(pages_resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// The apply benchmarks' arg: how many events ahead the loop calls prefetch()
// (0: not at all), as a worker draining a batch from its queue could.
void apply_arguments(benchmark::internal::Benchmark* family) {
  family->ArgName("prefetch_ahead")->Arg(0)->Arg(8)->Unit(benchmark::kMillisecond)->MinTime(2.0);
}

void apply_all(SubjectTable& table, const std::vector<Event>& events, std::size_t ahead) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (ahead != 0 && i + ahead < events.size()) table.prefetch(events[i + ahead].subject.view());
    benchmark::DoNotOptimize(table.apply(events[i]));
  }
}

// Args: contributions per subject; whether they arrive in waves (every
// subject's first event, then every subject's second) or subject by subject.
// A wave moves every blob to the next size class at once and leaves the
// previous class's blocks free for subjects yet to come: memory_bytes() counts
// them, since they are held, until the next purge compacts the class.
void BM_MemoryPerSubject(benchmark::State& state) {
  Workload& w = workload();
  const int contributions = static_cast<int>(state.range(0));
  const bool waves = state.range(1) != 0;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);  // what earlier benchmarks freed must not hide this one's growth
    const std::size_t rss_before = rss_bytes();
    state.ResumeTiming();
    std::unique_ptr<SubjectTable> table;
    if (waves) {
      table = filled_table(w, contributions);
    } else {
      table = std::make_unique<SubjectTable>(w.interns);
      for (std::size_t i = 0; i < w.events.size(); ++i) {
        Event next = w.events[i];
        for (int round = 0; round < contributions; ++round) {
          next.id.assign(id_for(w, i, round));
          table->apply(next);
        }
      }
    }
    state.PauseTiming();
    const std::size_t rss_after = rss_bytes();
    const auto subjects = static_cast<double>(table->subjects());
    state.counters["subjects"] = subjects;
    state.counters["bytes_per_subject"] = static_cast<double>(table->memory_bytes()) / subjects;
    state.counters["rss_bytes_per_subject"] =
        static_cast<double>(rss_after - rss_before) / subjects;
    // A purge that drops nothing (now = 0) still compacts size classes left
    // sparse by a wave.
    table->purge(0, 0);
    state.counters["bytes_per_subject_after_purge"] =
        static_cast<double>(table->memory_bytes()) / subjects;
    table.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MemoryPerSubject)
    ->ArgNames({"contributions", "waves"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_ApplyNewSubject(benchmark::State& state) {
  Workload& w = workload();
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<SubjectTable>(w.interns);
    state.ResumeTiming();
    apply_all(*table, w.events, static_cast<std::size_t>(state.range(0)));
    state.PauseTiming();
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.events.size()));
}
BENCHMARK(BM_ApplyNewSubject)->Apply(apply_arguments);

void BM_ApplySecondContribution(benchmark::State& state) {
  Workload& w = workload();
  for (auto _ : state) {
    state.PauseTiming();
    auto table = filled_table(w, 1);
    set_ids(w, 1);
    state.ResumeTiming();
    apply_all(*table, w.events, static_cast<std::size_t>(state.range(0)));
    state.PauseTiming();
    set_ids(w, 0);
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.events.size()));
}
BENCHMARK(BM_ApplySecondContribution)->Apply(apply_arguments);

void BM_ApplyDuplicate(benchmark::State& state) {
  Workload& w = workload();
  auto table = filled_table(w, 2);
  set_ids(w, 1);
  for (auto _ : state) apply_all(*table, w.events, static_cast<std::size_t>(state.range(0)));
  set_ids(w, 0);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.events.size()));
}
BENCHMARK(BM_ApplyDuplicate)->Apply(apply_arguments);

void BM_ScoreAt(benchmark::State& state) {
  Workload& w = workload();
  auto table = filled_table(w, 2);
  std::vector<const SubjectState*> states;
  states.reserve(w.events.size());
  for (const auto& event : w.events) states.push_back(table->find(event.subject.view()));
  const std::int64_t at = kStartMs + 300 * kDayMs;
  std::size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->score_at(*states[next], at));
    if (++next == states.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScoreAt);

void BM_FindAndScoreAt(benchmark::State& state) {
  Workload& w = workload();
  auto table = filled_table(w, 2);
  const std::int64_t at = kStartMs + 300 * kDayMs;
  std::size_t next = 0;
  for (auto _ : state) {
    const SubjectState* found = table->find(w.events[next].subject.view());
    benchmark::DoNotOptimize(table->score_at(*found, at));
    if (++next == w.events.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindAndScoreAt);

// One fleet's history: N events of one subject against N events of N
// subjects; arg 1: 0 one subject as tallyd holds it (indexed past 4 KiB),
// events in random time order; 1 the same, never indexed; 2 N subjects; 3
// one subject, events in time order (nothing after the insertion point).
void BM_OneSubjectHistory(benchmark::State& state) {
  Workload& w = workload();
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto mode = state.range(1);
  std::vector<Event> events(w.events.begin(), w.events.begin() + static_cast<std::ptrdiff_t>(n));
  if (mode != 2) {
    for (Event& event : events) event.subject.assign("org:fleet:1");
  }
  if (mode == 3) {
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return a.time_ms < b.time_ms; });
  }
  SubjectTable::Options options;
  if (mode == 1) options.index_from_bytes = std::numeric_limits<std::uint32_t>::max();
  const std::int64_t now = kStartMs + 400 * kDayMs;
  for (auto _ : state) {
    SubjectTable table(w.interns, options);
    for (const Event& event : events) benchmark::DoNotOptimize(table.apply(event, now));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_OneSubjectHistory)
    ->ArgsProduct({{2'500, 5'000, 10'000, 20'000, 100'000}, {0, 2, 3}})
    ->Args({2'500, 1})
    ->Args({5'000, 1})
    ->Args({10'000, 1})
    ->Args({20'000, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tally::scorer
