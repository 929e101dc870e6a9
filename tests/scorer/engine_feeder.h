// Test helper: decodes NDJSON and routes it into an engine's queues as the
// ingest thread does (row 0, by subject hash, advancing the event clock),
// so engine tests exercise the real queues and workers without sockets.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "scorer/engine.h"
#include "stream/event_decoder.h"
#include "stream/work_queue.h"

namespace tally::scorer::testing {

inline void feed(Engine& engine, stream::EventDecoder& decoder, std::string_view ndjson) {
  struct Sink : stream::DecodeSink {
    Engine* engine;
    void on_event(const stream::Event& event) override {
      stream::WorkItem item;
      item.event = event;
      const auto worker = engine->groups().worker_of(event.subject_hash);
      stream::push_blocking(engine->queues().at(0, worker), &item, 1, [] { return false; });
      std::int64_t seen = engine->event_clock().load();
      while (seen < event.time_ms &&
             !engine->event_clock().compare_exchange_weak(seen, event.time_ms)) {
      }
    }
    void on_reject(std::uint32_t, std::string_view, const stream::DecodeResult& result) override {
      ADD_FAILURE() << "rejected: " << result.detail;
    }
  } sink;
  sink.engine = &engine;
  decoder.decode_batch(ndjson, *engine.types().load(), sink);
}

}  // namespace tally::scorer::testing
