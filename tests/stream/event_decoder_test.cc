#include "stream/event_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "stream/event_time.h"
#include "stream/key_groups.h"

namespace tally::stream {
namespace {

// A test-local type table: red_light (3 points) and the built-in revoke.
class TestTypes final : public EventTypeResolver {
 public:
  const EventTypeTerms* resolve(std::string_view type) const noexcept override {
    if (type == "red_light") return &red_light_;
    if (type == "revoke") return &revoke_;
    return nullptr;
  }
  EventTypeTerms red_light_{3, 1000, false};
  EventTypeTerms revoke_{0, kNever, true};
};

struct Collected : DecodeSink {
  std::vector<Event> events;
  std::vector<std::pair<std::uint32_t, RejectReason>> rejects;
  void on_event(const Event& event) override { events.push_back(event); }
  void on_reject(std::uint32_t line, std::string_view, const DecodeResult& result) override {
    rejects.emplace_back(line, result.reason);
  }
};

class EventDecoderTest : public ::testing::Test {
 protected:
  // Decodes one line through the batch path (which pads it).
  DecodeResult decode(const std::string& line) {
    Collected sink;
    decoder_.decode_batch(line, types_, sink);
    if (!sink.events.empty()) {
      event_ = sink.events.front();
      return {};
    }
    EXPECT_EQ(sink.rejects.size(), 1u) << line;
    return {false, sink.rejects.empty() ? RejectReason::kMalformedJson : sink.rejects[0].second,
            ""};
  }
  RejectReason reason(const std::string& line) {
    const DecodeResult result = decode(line);
    EXPECT_FALSE(result.ok) << line;
    return result.reason;
  }

  TestTypes types_;
  EventDecoder decoder_{DecoderOptions{256}};
  Event event_;
};

TEST_F(EventDecoderTest, DecodesEveryFieldInAnyOrder) {
  ASSERT_TRUE(
      decode(
          R"({"time":"2024-03-01T12:30:00Z","type":"red_light","source":"cam-7",)"
          R"("attrs":{"lane":2,"x":[1,2]},"subject":"plate:NY:ABC1234","id":"e-1","extra":true})")
          .ok);
  EXPECT_EQ(event_.id.view(), "e-1");
  EXPECT_EQ(event_.subject.view(), "plate:NY:ABC1234");
  EXPECT_EQ(event_.source.view(), "cam-7");
  EXPECT_EQ(event_.type, &types_.red_light_);
  EXPECT_EQ(event_.time_ms, 1709296200000);
  EXPECT_EQ(event_.subject_hash, stable_hash64("plate:NY:ABC1234"));
}

TEST_F(EventDecoderTest, AcceptsEpochMillisecondsAndOffsets) {
  ASSERT_TRUE(decode(R"({"id":"a","subject":"s","type":"red_light","time":1709296200123})").ok);
  EXPECT_EQ(event_.time_ms, 1709296200123);
  ASSERT_TRUE(
      decode(R"({"id":"a","subject":"s","type":"red_light","time":"2024-03-01T08:30:00.5-04:00"})")
          .ok);
  EXPECT_EQ(event_.time_ms, 1709296200500);
}

TEST_F(EventDecoderTest, UnescapesUnicodeAndEscapesByteExactly) {
  ASSERT_TRUE(
      decode(
          R"({"id":"\u00e9\n\"q\"","subject":"person:Jos\u00e9 \ud83d\ude97","type":"red_light","time":0})")
          .ok);
  EXPECT_EQ(event_.id.view(), "\xC3\xA9\n\"q\"");
  EXPECT_EQ(event_.subject.view(), "person:Jos\xC3\xA9 \xF0\x9F\x9A\x97");
  ASSERT_TRUE(decode("{\"id\":\"1\",\"subject\":\"\xE5\x8C\x97\xE4\xBA\xAC\",\"type\":\"red_"
                     "light\",\"time\":0}")
                  .ok);
  EXPECT_EQ(event_.subject.view(), "\xE5\x8C\x97\xE4\xBA\xAC");
}

TEST_F(EventDecoderTest, NamesEveryRejectReason) {
  EXPECT_EQ(reason("{not json"), RejectReason::kMalformedJson);
  EXPECT_EQ(reason("[1,2]"), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":0} {})"),
            RejectReason::kMalformedJson);
  EXPECT_EQ(reason("{\"id\":\"\xFF\",\"subject\":\"s\",\"type\":\"red_light\",\"time\":0}"),
            RejectReason::kMalformedJson);
  EXPECT_EQ(reason(R"({"subject":"s","type":"red_light","time":0})"), RejectReason::kMissingField);
  EXPECT_EQ(reason(R"({"id":"a","type":"red_light","time":0})"), RejectReason::kMissingField);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","time":0})"), RejectReason::kMissingField);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light"})"), RejectReason::kMissingField);
  EXPECT_EQ(reason(R"({"id":7,"subject":"s","type":"red_light","time":0})"),
            RejectReason::kBadField);
  EXPECT_EQ(reason(R"({"id":"","subject":"s","type":"red_light","time":0})"),
            RejectReason::kBadField);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":0,"attrs":[1]})"),
            RejectReason::kBadField);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":"2023-02-29T00:00:00Z"})"),
            RejectReason::kBadTime);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":1.5})"),
            RejectReason::kBadTime);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":-5})"),
            RejectReason::kBadTime);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"red_light","time":"yesterday"})"),
            RejectReason::kBadTime);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"parking","time":0})"),
            RejectReason::kUnknownType);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"revoke","time":0})"),
            RejectReason::kBadRevoke);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"revoke","revokes":"a","time":0})"),
            RejectReason::kBadRevoke);
  EXPECT_EQ(reason(R"({"id":"a","subject":"s","type":"revoke","revokes":"","time":0})"),
            RejectReason::kBadRevoke);
  EXPECT_EQ(reason(R"({"id":")" + std::string(65, 'x') +
                   R"(","subject":"s","type":"red_light","time":0})"),
            RejectReason::kOversized);
}

TEST_F(EventDecoderTest, OversizedLineIsRefusedAtItsLimitPlusOne) {
  const std::string head =
      R"({"id":"a","subject":"s","type":"red_light","time":0,"attrs":{"pad":")";
  const std::string tail = R"("}})";
  const std::string at_limit = head + std::string(256 - head.size() - tail.size(), 'p') + tail;
  ASSERT_EQ(at_limit.size(), 256u);
  EXPECT_TRUE(decode(at_limit).ok);
  const std::string over = head + std::string(257 - head.size() - tail.size(), 'p') + tail;
  EXPECT_EQ(reason(over), RejectReason::kOversized);
}

TEST_F(EventDecoderTest, BatchKeepsGoingAndNumbersLinesLikeTheSendersFile) {
  Collected sink;
  const std::string batch =
      R"({"id":"1","subject":"s","type":"red_light","time":0})"
      "\r\n"
      "\n"
      "   \r\n"
      "{bad\n"
      R"({"id":"2","subject":"s","type":"revoke","revokes":"1","time":1})"
      "\n"
      R"({"id":"3","subject":"s","type":"nope","time":0})";  // no trailing newline
  EXPECT_EQ(decoder_.decode_batch(batch, types_, sink), 4u);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[1].revokes.view(), "1");
  EXPECT_EQ(sink.rejects, (std::vector<std::pair<std::uint32_t, RejectReason>>{
                              {4, RejectReason::kMalformedJson}, {6, RejectReason::kUnknownType}}));
}

TEST(EventTimeTest, ParsesAndFormatsRfc3339) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T23:59:59.999Z"), 1709251199999);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01t00:00:00.123456+01:00"), 1709247600123);
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01 00:00:00Z"), 1709251200000);
  for (const char* bad :
       {"2024-13-01T00:00:00Z", "2024-04-31T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00", "2024-01-01",
        "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00Zjunk", "2024-1-01T00:00:00Z", ""}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_ms(1709251199999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  for (std::int64_t ms : {0LL, 951782400000LL, 4102444800000LL, -86400000LL}) {
    EXPECT_EQ(parse_rfc3339_ms(format_rfc3339_ms(ms)), ms);
  }
}

TEST(KeyGroupsTest, HashIsStableAndGroupsSplitEvenly) {
  // Pinned: the subject -> key group mapping must never change silently.
  EXPECT_EQ(stable_hash64("plate:NY:ABC1234"), 0x4a130deedefc96c0ULL);
  EXPECT_EQ(key_group_of(stable_hash64("plate:NY:ABC1234")), 1728u);
  for (std::uint32_t workers : {1u, 2u, 3u, 7u, 4096u}) {
    KeyGroupMap map(workers);
    std::vector<std::uint32_t> owned(workers, 0);
    std::uint32_t previous = 0;
    for (std::uint32_t group = 0; group < kKeyGroups; ++group) {
      const std::uint32_t owner = map.worker_of_group(group);
      ASSERT_LT(owner, workers);
      ASSERT_GE(owner, previous) << "ranges are contiguous";
      previous = owner;
      ++owned[owner];
    }
    const auto [least, most] = std::minmax_element(owned.begin(), owned.end());
    EXPECT_LE(*most - *least, 1u) << workers << " workers";
  }
  EXPECT_THROW(KeyGroupMap(0), std::invalid_argument);
  EXPECT_THROW(KeyGroupMap(4097), std::invalid_argument);
}

}  // namespace
}  // namespace tally::stream
