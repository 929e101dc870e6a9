// Rules micro-benchmarks: what a reload costs before the swap, which is one
// pointer store (scorer/engine.cc). The aim: a 10,000-rule file
// reloaded in under 100 ms.
//
//   BM_ParseRules/N     parse_rules over N generated rules already in memory:
//                       TOML parse, validation, the name index
//   BM_LoadRulesFile/N  load_rules_file: the same plus reading the file, as
//                       tallyd's reload does
//
// The files come from bench/generated_rules.h (~110 bytes a rule, shaped
// like the shipped profiles).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "bench/generated_rules.h"
#include "scorer/rules.h"

namespace {

using tally::scorer::RuleSet;
using RulesResult = tally::Result<std::shared_ptr<const RuleSet>>;

// Fails the benchmark (rather than timing an error path) if the set was refused.
bool loaded(benchmark::State& state, const RulesResult& result, std::size_t rules) {
  if (!result) {
    state.SkipWithError(result.status().to_string().c_str());
    return false;
  }
  if ((*result)->rules().size() != rules) {
    state.SkipWithError("wrong rule count");
    return false;
  }
  return true;
}

void report(benchmark::State& state, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_ParseRules(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const std::string text = tally::bench::generated_rules_toml(count);
  for (auto _ : state) {
    RulesResult result = tally::scorer::parse_rules(text, "generated.toml", 2);
    if (!loaded(state, result, count)) return;
    benchmark::DoNotOptimize(result);
  }
  report(state, text.size());
}
BENCHMARK(BM_ParseRules)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_LoadRulesFile(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const std::string text = tally::bench::generated_rules_toml(count);
  const auto path = std::filesystem::temp_directory_path() /
                    ("tally-micro-rules-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path, std::ios::binary) << text;
  for (auto _ : state) {
    RulesResult result = tally::scorer::load_rules_file(path.string(), 2);
    if (!loaded(state, result, count)) break;
    benchmark::DoNotOptimize(result);
  }
  std::filesystem::remove(path);
  report(state, text.size());
}
BENCHMARK(BM_LoadRulesFile)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
