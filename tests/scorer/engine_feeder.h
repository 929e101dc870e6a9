// Test helpers: a small rules profile, and a feeder that decodes NDJSON and
// routes it into an engine's queues as the ingest thread does (row 0, by
// subject hash, advancing the event clock), so engine tests exercise the real
// queues and workers without sockets.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "core/work_queue.h"
#include "scorer/engine.h"
#include "stream/event_decoder.h"

namespace tally::scorer::testing {

// A small profile the engine and query service tests share: base 10 clamped
// to [0, 20], a fine that expires after 10 days, a credit that lasts, and two
// tiers ("low" from 0, "high" from 15); "now" is the largest event time.
inline constexpr const char* kSmallProfile = R"(
[score]
base = 10
min = 0
max = 20
clock = "event"
[rules.fine]
points = 4
expires_after = "10d"
[rules.credit]
points = -3
[[tier]]
name = "low"
min = 0
[[tier]]
name = "high"
min = 15
)";

inline void feed(Engine& engine, stream::EventDecoder& decoder, std::string_view ndjson) {
  struct Sink : stream::DecodeSink {
    Engine* engine;
    void on_event(const Event& event, std::uint32_t /*line_number*/) override {
      WorkItem item;
      item.event = event;
      const auto worker = engine->groups().worker_of(event.subject_hash);
      push_blocking(engine->queues().at(0, worker), &item, 1, [] { return false; });
      std::int64_t seen = engine->event_clock().load();
      while (seen < event.time_ms &&
             !engine->event_clock().compare_exchange_weak(seen, event.time_ms)) {
      }
    }
    void on_reject(std::uint32_t, std::string_view, const Status& why) override {
      ADD_FAILURE() << "rejected: " << why.message();
    }
  } sink;
  sink.engine = &engine;
  decoder.decode_batch(ndjson, *engine.types().load(), sink);
}

}  // namespace tally::scorer::testing
