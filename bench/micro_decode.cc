// Decode micro-benchmarks: NDJSON batch -> Events, the ingest thread's work.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "stream/event_decoder.h"
#include "stream/event_time.h"

namespace {

class BenchTypes final : public tally::stream::EventTypeResolver {
 public:
  const tally::stream::EventTypeTerms* resolve(std::string_view type) const noexcept override {
    return type == "red_light" ? &terms_ : nullptr;
  }
  tally::stream::EventTypeTerms terms_{3, 1000, false};
};

class CountingSink final : public tally::stream::DecodeSink {
 public:
  void on_event(const tally::stream::Event& event) override { sum += event.time_ms; }
  void on_reject(std::uint32_t, std::string_view, const tally::stream::DecodeResult&) override {
    ++rejects;
  }
  std::int64_t sum = 0;
  std::int64_t rejects = 0;
};

// A realistic event: RFC 3339 time, source and small attrs (~200 bytes).
std::string realistic_batch(int events) {
  std::string batch;
  for (int i = 0; i < events; ++i) {
    batch += fmt::format(
        R"({{"id":"nyc:{}","subject":"plate:NY:{}","type":"red_light","time":"{}",)"
        R"("source":"cam-{}","attrs":{{"county":"K","precinct":"062","fine":"50.00"}}}})"
        "\n",
        8713353457 + i, 100000 + i * 7,
        tally::stream::format_rfc3339_ms(1600000000000 + i * 60000LL), i % 300);
  }
  return batch;
}

void BM_DecodeBatch(benchmark::State& state) {
  const std::string batch = realistic_batch(1000);
  BenchTypes types;
  tally::stream::EventDecoder decoder;
  CountingSink sink;
  for (auto _ : state) {
    decoder.decode_batch(batch, types, sink);
    benchmark::DoNotOptimize(sink.sum);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(BM_DecodeBatch);

void BM_DecodeBatchEpochMillis(benchmark::State& state) {
  std::string batch;
  for (int i = 0; i < 1000; ++i) {
    batch += fmt::format(R"({{"id":"e{}","subject":"s{}","type":"red_light","time":{}}})"
                         "\n",
                         i, i, 1600000000000 + i);
  }
  BenchTypes types;
  tally::stream::EventDecoder decoder;
  CountingSink sink;
  for (auto _ : state) decoder.decode_batch(batch, types, sink);
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_DecodeBatchEpochMillis);

}  // namespace
