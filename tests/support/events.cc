#include "tests/support/events.h"

#include <fmt/format.h>

#include <random>

#include "core/json_writer.h"

namespace tally::testing {
namespace {

template <typename Time>
std::string line(std::string_view id, std::string_view subject, std::string_view type, Time time,
                 const EventExtras& extras) {
  std::string out;
  JsonWriter json(out);
  json.begin_object().field("id", id).field("subject", subject).field("type", type);
  json.field("time", time);
  if (!extras.source.empty()) json.field("source", extras.source);
  if (!extras.revokes.empty()) json.field("revokes", extras.revokes);
  if (!extras.reason.empty())
    json.key("attrs").begin_object().field("reason", extras.reason).end_object();
  json.end_object();
  out += '\n';
  return out;
}

}  // namespace

std::string event_line(std::string_view id, std::string_view subject, std::string_view type,
                       std::string_view time, const EventExtras& extras) {
  return line(id, subject, type, time, extras);
}

std::string event_line(std::string_view id, std::string_view subject, std::string_view type,
                       std::int64_t time_ms, const EventExtras& extras) {
  return line(id, subject, type, time_ms, extras);
}

PlainSumWorkload make_plain_sum_workload(int batches, int per_batch, int subjects,
                                         std::uint32_t seed, std::string_view prefix) {
  static constexpr std::pair<const char*, int> kTypes[] = {
      {"small", 1}, {"medium", 3}, {"large", 7}};
  std::mt19937 random(seed);
  PlainSumWorkload workload;
  for (int b = 0; b < batches; ++b) {
    std::string batch;
    for (int i = 0; i < per_batch; ++i) {
      const auto& [type, points] = kTypes[random() % 3];
      const std::string subject =
          fmt::format("plate:{}:{}", prefix, random() % static_cast<std::uint32_t>(subjects));
      batch +=
          event_line(fmt::format("{}{}-{}", prefix, b, i), subject, type, "2026-01-01T00:00:00Z");
      workload.expected[subject] += points;
      ++workload.events;
    }
    workload.batches.push_back(std::move(batch));
  }
  return workload;
}

}  // namespace tally::testing
