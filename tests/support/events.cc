#include "tests/support/events.h"

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

}  // namespace tally::testing
