// EventDecoder, batch by batch: the line limit, framing and line numbers,
// many batches through one decoder, the padded and single-line paths, and no
// heap allocation per event.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "core/key_groups.h"
#include "tests/stream/event_decoder_fixture.h"

// Counts heap allocations, to prove the decoder's success path makes none.
// Replacing the global operator new is how C++ lets a program observe this;
// it only counts, and otherwise behaves as the default.
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// Every form a library may call (simdjson uses the nothrow one) is replaced,
// all on malloc and free, so that no allocation made by one allocator is
// freed by another (AddressSanitizer checks that).
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
// Not inlined: GCC would otherwise see `free` meet `new` and warn.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace tally::stream::decoder_test {
namespace {

TEST_F(EventDecoderTest, OversizedLineIsRefusedAtItsLimitPlusOne) {
  EventDecoder decoder{DecoderOptions{256}};
  const std::string head = with("", "", {R"("attrs":{"pad":")"});
  const std::string prefix = head.substr(0, head.size() - 1);  // without the closing brace
  const std::string tail = R"("}})";
  const auto line_of = [&](std::size_t size) {
    return prefix + std::string(size - prefix.size() - tail.size(), 'p') + tail;
  };
  ASSERT_EQ(line_of(256).size(), 256u);
  CollectingSink sink;
  decoder.decode_batch(line_of(256) + "\n" + line_of(257) + "\r\n" + std::string(300, '{'), types_,
                       sink);
  ASSERT_EQ(sink.events.size(), 1u);
  ASSERT_EQ(sink.rejects.size(), 2u);
  EXPECT_EQ(sink.rejects[0].line, 2u);
  EXPECT_EQ(sink.rejects[0].result.reason, RejectReason::kOversized);
  EXPECT_STREQ(sink.rejects[0].result.detail, "line: longer than max_line_bytes");
  // Not parsed: an over-long line of garbage is oversized, not malformed.
  EXPECT_EQ(sink.rejects[1].line, 3u);
  EXPECT_EQ(sink.rejects[1].result.reason, RejectReason::kOversized);
  // The trailing CR is not counted.
  CollectingSink crlf;
  decoder.decode_batch(line_of(256) + "\r\n", types_, crlf);
  EXPECT_EQ(crlf.events.size(), 1u);
}

TEST_F(EventDecoderTest, BatchKeepsGoingAndNumbersLinesLikeTheSendersFile) {
  CollectingSink sink;
  const std::string batch =
      R"({"id":"1","subject":"s","type":"red_light","time":0,"source":"cam"})"
      "\r\n"  // CRLF
      "\n"    // blank
      "   \t\r\n"
      "{bad\n"
      R"({"id":"2","subject":"s","type":"revoke","revokes":"1","time":1})"
      "\n"
      "\r\n"
      R"({"id":"3","subject":"s","type":"nope","time":0})"
      "\n"
      R"({"id":"4","subject":"t","type":"red_light","time":"2024-03-01T12:30:00Z"})";
  // (no trailing newline)
  EXPECT_EQ(decoder_.decode_batch(batch, types_, sink), 5u);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].id.view(), "1");
  EXPECT_EQ(sink.events[0].source.view(), "cam");
  EXPECT_EQ(sink.events[1].id.view(), "2");
  EXPECT_EQ(sink.events[1].revokes.view(), "1");
  EXPECT_TRUE(sink.events[1].source.empty()) << "fields never leak from one line to the next";
  EXPECT_EQ(sink.events[2].id.view(), "4");
  EXPECT_EQ(sink.events[2].time_ms, 1709296200000);
  ASSERT_EQ(sink.rejects.size(), 2u);
  EXPECT_EQ(sink.rejects[0].line, 4u);
  EXPECT_EQ(sink.rejects[0].text, "{bad");
  EXPECT_EQ(sink.rejects[0].result.reason, RejectReason::kMalformedJson);
  EXPECT_EQ(sink.rejects[1].line, 7u);
  EXPECT_EQ(sink.rejects[1].result.reason, RejectReason::kUnknownType);
}

TEST_F(EventDecoderTest, CountsOnlyNonBlankLines) {
  CollectingSink sink;
  EXPECT_EQ(decoder_.decode_batch("", types_, sink), 0u);
  EXPECT_EQ(decoder_.decode_batch("\n\r\n \n", types_, sink), 0u);
  const std::string line = with("", "");
  EXPECT_EQ(decoder_.decode_batch(line + "\n", types_, sink), 1u);      // trailing newline
  EXPECT_EQ(decoder_.decode_batch(line + "\n\n\n", types_, sink), 1u);  // trailing blank lines
  EXPECT_EQ(decoder_.decode_batch(line + "\r", types_, sink), 1u);      // trailing CR
  EXPECT_EQ(sink.events.size(), 3u);
  EXPECT_TRUE(sink.rejects.empty());
}

TEST_F(EventDecoderTest, ManyBatchesOfMixedLinesThroughOneDecoder) {
  // Bad lines of every kind between good ones, batches of growing and
  // shrinking size: each good line decodes the same whatever came before.
  const std::vector<std::string> bad = {"{",
                                        "[]",
                                        R"({"id":"x"})",
                                        with("time", R"("time":1.5)"),
                                        with("type", R"("type":"nope")"),
                                        with("id", R"("id":")" + std::string(100, 'x') + "\""),
                                        with("type", R"("type":"revoke")"),
                                        "\xFF\xFE",
                                        std::string(5000, 'x')};
  for (int round = 0; round < 20; ++round) {
    std::string batch;
    std::size_t good = 0;
    for (int i = 0; i < (round % 7) * 30 + 1; ++i) {
      if (i % 3 == 1) {
        batch += bad[static_cast<std::size_t>(i + round) % bad.size()];
      } else {
        batch += object({R"("id":"r)" + std::to_string(round) + "-" + std::to_string(i) + "\"",
                         R"("subject":"s)" + std::to_string(i) + "\"", kType,
                         R"("time":)" + std::to_string(i)});
        ++good;
      }
      batch += i % 2 == 0 ? "\n" : "\r\n";
    }
    CollectingSink sink;
    decoder_.decode_batch(batch, types_, sink);
    ASSERT_EQ(sink.events.size(), good) << "round " << round;
    for (const Event& event : sink.events) {
      const std::string subject(event.subject.view());
      EXPECT_EQ(event.time_ms, std::stoll(subject.substr(1)));
      EXPECT_EQ(event.subject_hash, stable_hash64(subject));
    }
  }
}

TEST_F(EventDecoderTest, PaddedBatchAndSingleLineAgreeWithTheCopyingBatch) {
  const std::string batch = with("", "") + "\n" + with("type", R"("type":"nope")") + "\n";
  simdjson::padded_string padded(batch);
  CollectingSink copying, in_place;
  EXPECT_EQ(decoder_.decode_batch(batch, types_, copying), 2u);
  EXPECT_EQ(decoder_.decode_padded_batch(std::string_view(padded.data(), padded.size()), types_,
                                         in_place),
            2u);
  ASSERT_EQ(copying.events.size(), 1u);
  ASSERT_EQ(in_place.events.size(), 1u);
  EXPECT_EQ(copying.events[0].id.view(), in_place.events[0].id.view());
  ASSERT_EQ(in_place.rejects.size(), 1u);
  EXPECT_EQ(in_place.rejects[0].line, 2u);

  simdjson::padded_string line(with("", ""));
  Event event;
  const Status result =
      decoder_.decode_line(std::string_view(line.data(), line.size()), types_, event);
  ASSERT_TRUE(result.is_ok());
  EXPECT_EQ(event.subject.view(), "plate:NY:ABC1234");
}

TEST_F(EventDecoderTest, AllocatesNothingPerEventOnceWarm) {
  struct CountingSink final : DecodeSink {
    std::size_t events = 0, rejects = 0;
    void on_event(const Event&, std::uint32_t) override { ++events; }
    void on_reject(std::uint32_t, std::string_view, const Status&) override { ++rejects; }
  } sink;
  std::string batch;
  for (int i = 0; i < 500; ++i) {
    batch += object({R"("id":"e)" + std::to_string(i) + "\"",
                     R"("subject":"person:Jos\u00e9 )" + std::to_string(i) + "\"", kType, kTime,
                     R"("source":"cam-7")", R"("attrs":{"lane":2,"plate":"ABC","v":[1.5,null]})"});
    batch += '\n';
  }
  const std::size_t cold = g_allocations.load();
  decoder_.decode_batch(batch, types_, sink);  // grows the buffer and the parser once
  const std::size_t before = g_allocations.load();
  EXPECT_GT(before, cold) << "the first batch allocates: the counter works";
  for (int round = 0; round < 3; ++round) decoder_.decode_batch(batch, types_, sink);
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(sink.events, 2000u);
  EXPECT_EQ(sink.rejects, 0u);
}

}  // namespace
}  // namespace tally::stream::decoder_test
