// EventDecoder, line by line: every reject reason, the precedence between
// them, escapes and Unicode, limits at their edge, revokes.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/event_time.h"
#include "core/key_groups.h"
#include "tests/stream/event_decoder_fixture.h"

namespace tally::stream::decoder_test {
namespace {

TEST_F(EventDecoderTest, DecodesEveryField) {
  ASSERT_TRUE(decode(object({kId, kSubject, kType, kTime, R"("source":"cam-7")",
                             R"("attrs":{"lane":2,"x":[1,2.5e3,null,true,false,{"y":"z"}]})"}))
                  .ok);
  EXPECT_EQ(event_.id.view(), "e-1");
  EXPECT_EQ(event_.subject.view(), "plate:NY:ABC1234");
  EXPECT_EQ(event_.source.view(), "cam-7");
  EXPECT_EQ(event_.type, &types_.red_light);
  EXPECT_EQ(event_.time_ms, 1709296200000);
  EXPECT_EQ(event_.subject_hash, stable_hash64("plate:NY:ABC1234"));
  EXPECT_TRUE(event_.revokes.empty());
}

TEST_F(EventDecoderTest, FieldOrderDoesNotMatter) {
  std::vector<std::string> members = {
      kId, kSubject, kType, kTime, R"("source":"cam-7")", R"("attrs":{"a":1})"};
  std::sort(members.begin(), members.end());
  int permutations = 0;
  do {
    ASSERT_TRUE(decode(object(members)).ok) << object(members);
    EXPECT_EQ(event_.id.view(), "e-1");
    EXPECT_EQ(event_.subject.view(), "plate:NY:ABC1234");
    EXPECT_EQ(event_.source.view(), "cam-7");
    EXPECT_EQ(event_.type, &types_.red_light);
    EXPECT_EQ(event_.time_ms, 1709296200000);
    ++permutations;
  } while (std::next_permutation(members.begin(), members.end()));
  EXPECT_EQ(permutations, 720);
}

TEST_F(EventDecoderTest, TheReasonForALineDoesNotDependOnFieldOrder) {
  // Three problems at once: the verdict is the first in the documented
  // precedence (id before time before type resolution), in every order.
  std::vector<std::string> members = {R"("id":7)", kSubject, R"("type":"parking")",
                                      R"("time":"noon")"};
  std::sort(members.begin(), members.end());
  do {
    const Verdict result = decode(object(members));
    EXPECT_EQ(result.reason, RejectReason::kBadField) << object(members);
    EXPECT_STREQ(result.detail, "field `id`: must be a non-empty string");
  } while (std::next_permutation(members.begin(), members.end()));
  // Invalid JSON anywhere outranks every field problem, even when the bad
  // field comes first.
  EXPECT_EQ(reason(object({R"("id":7)", kSubject, kType, kTime, R"("x":[1,,2])"})),
            RejectReason::kMalformedJson);
  EXPECT_EQ(reason(object({R"("id":7)", kSubject, kType, kTime}) + "x"),
            RejectReason::kMalformedJson);
  // A missing field outranks a bad field that comes later in the precedence.
  EXPECT_EQ(reason(with("subject", "", {R"("source":5)"})), RejectReason::kMissingField);
  // Field problems outrank an unknown type, which outranks a bad revoke.
  EXPECT_EQ(reason(with("type", R"("type":"nope")", {R"("attrs":[])"})), RejectReason::kBadField);
  EXPECT_EQ(reason(with("type", R"("type":"nope")")), RejectReason::kUnknownType);
}

TEST_F(EventDecoderTest, AcceptsBothTimeForms) {
  ASSERT_TRUE(decode(with("time", R"("time":1709296200123)")).ok);
  EXPECT_EQ(event_.time_ms, 1709296200123);
  ASSERT_TRUE(decode(with("time", R"("time":0)")).ok);
  EXPECT_EQ(event_.time_ms, 0);
  ASSERT_TRUE(decode(with("time", R"("time":-0)")).ok);
  EXPECT_EQ(event_.time_ms, 0);
  // Negative epoch milliseconds are accepted, as their RFC 3339 spelling is.
  ASSERT_TRUE(decode(with("time", R"("time":-1)")).ok);
  EXPECT_EQ(event_.time_ms, -1);
  ASSERT_TRUE(decode(with("time", R"("time":"1969-12-31T23:59:59.999Z")")).ok);
  EXPECT_EQ(event_.time_ms, -1);
  ASSERT_TRUE(decode(with("time", R"("time":"2024-03-01T08:30:00.5-04:00")")).ok);
  EXPECT_EQ(event_.time_ms, 1709296200500);
  ASSERT_TRUE(decode(with("time", R"("time":"2024-03-01t18:00:00.123456789+05:30")")).ok);
  EXPECT_EQ(event_.time_ms, 1709296200123);
  ASSERT_TRUE(decode(with("time", R"("time":"2024-02-29 00:00:00z")")).ok);
  EXPECT_EQ(event_.time_ms, 1709164800000);
  // The edges of the range, in both forms.
  ASSERT_TRUE(decode(with("time", R"("time":253402300799999)")).ok);
  EXPECT_EQ(event_.time_ms, kLatestTimeMs);
  ASSERT_TRUE(decode(with("time", R"("time":"9999-12-31T23:59:59.999Z")")).ok);
  EXPECT_EQ(event_.time_ms, kLatestTimeMs);
  ASSERT_TRUE(decode(with("time", R"("time":-62167219200000)")).ok);
  EXPECT_EQ(event_.time_ms, kEarliestTimeMs);
  // An escaped RFC 3339 string is unescaped before it is parsed.
  ASSERT_TRUE(decode(with("time", R"("time":"2024-03-01T12:30:00\u005A")")).ok);
  EXPECT_EQ(event_.time_ms, 1709296200000);
}

TEST_F(EventDecoderTest, RefusesBadTimes) {
  for (const char* time : {
           // Strings that are not RFC 3339, or not a real date.
           R"("2023-02-29T00:00:00Z")",
           R"("2024-02-30T00:00:00Z")",
           R"("2024-03-01T12:30:00")",
           R"("2024-03-01")",
           R"("yesterday")",
           R"("")",
           // Past year 9999 once in UTC.
           R"("9999-12-31T23:59:59-01:00")",
           // Numbers that are not integers.
           "1.5",
           "1709296200000.0",
           "1e3",
           "-1.0",
           // Integers outside years 0000-9999, or past 64 bits.
           "253402300800000",
           "-62167219200001",
           "9223372036854775808",
           "99999999999999999999999",
           // Other JSON types.
           "true",
           "null",
           "[1]",
           R"({"ms":1})",
       }) {
    const Verdict result = decode(with("time", std::string(R"("time":)") + time));
    EXPECT_FALSE(result.ok) << time;
    EXPECT_EQ(result.reason, RejectReason::kBadTime) << time;
    EXPECT_STREQ(result.detail,
                 "field `time`: not RFC 3339 or integer epoch milliseconds in years 0000-9999");
  }
  // A number that is not valid JSON is not a bad time but a bad line.
  for (const char* time : {"01", "1.", "-", "+1", ".5", "1e", "0x10"}) {
    EXPECT_EQ(reason(with("time", std::string(R"("time":)") + time)), RejectReason::kMalformedJson)
        << time;
  }
}

TEST_F(EventDecoderTest, UnescapesStringsByteExactly) {
  ASSERT_TRUE(decode(with("id", R"("id":"\u00e9\n\"q\"\\\/\t\b\f\r")",
                          {R"("source":"cam \ud83d\ude97 \u5317")"}))
                  .ok);
  EXPECT_EQ(event_.id.view(), "\xC3\xA9\n\"q\"\\/\t\b\f\r");
  EXPECT_EQ(event_.source.view(), "cam \xF0\x9F\x9A\x97 \xE5\x8C\x97");
  // Raw UTF-8 and its escaped spelling decode to the same bytes, and so route
  // the same way.
  ASSERT_TRUE(decode(with("subject", "\"subject\":\"person:Jos\xC3\xA9 \xF0\x9F\x9A\x97\"")).ok);
  const Event raw = event_;
  ASSERT_TRUE(decode(with("subject", R"("subject":"person:Jos\u00e9 \ud83d\ude97")")).ok);
  EXPECT_EQ(event_.subject.view(), "person:Jos\xC3\xA9 \xF0\x9F\x9A\x97");
  EXPECT_EQ(event_.subject.view(), raw.subject.view());
  EXPECT_EQ(event_.subject_hash, raw.subject_hash);
  EXPECT_EQ(event_.subject_hash, stable_hash64("person:Jos\xC3\xA9 \xF0\x9F\x9A\x97"));
  // Types are matched after unescaping, byte for byte.
  ASSERT_TRUE(decode(with("type", R"("type":"\u00e9t\u00e9")")).ok);
  EXPECT_EQ(event_.type, &types_.ete);
  EXPECT_EQ(reason(with("type", R"("type":"Red_light")")), RejectReason::kUnknownType);
  // Keys are unescaped too: "\u0069d" is "id".
  ASSERT_TRUE(decode(with("id", R"("\u0069d":"k")")).ok);
  EXPECT_EQ(event_.id.view(), "k");
  // A key is matched whole: "ids" and "i" are unknown fields.
  EXPECT_EQ(reason(with("id", R"("ids":"k","i":"k")")), RejectReason::kMissingField);
}

TEST_F(EventDecoderTest, RefusesInvalidStringsAndUtf8AsMalformed) {
  EXPECT_EQ(reason(with("id", "\"id\":\"\xFF\"")), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(with("id", "\"id\":\"\xC3\"")), RejectReason::kMalformedJson);  // truncated
  EXPECT_EQ(reason(with("id", "\"id\":\"\xED\xA0\x80\"")),
            RejectReason::kMalformedJson);  // UTF-16 surrogate
  EXPECT_EQ(detail(with("id", "\"id\":\"\xFF\"")), "not valid UTF-8");
  EXPECT_EQ(reason(with("id", R"("id":"\x")")), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(with("id", R"("id":"\ud83d")")),
            RejectReason::kMalformedJson);  // lone surrogate
  EXPECT_EQ(reason(with("id", R"("id":"\u12")")), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(with("id", "\"id\":\"a\tb\"")), RejectReason::kMalformedJson);  // raw control
  // Also where Tally does not read: unknown fields and attrs.
  EXPECT_EQ(reason(with("", "", {"\"note\":\"\xFF\""})), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(with("", "", {R"("note":"\q")"})), RejectReason::kMalformedJson);
  EXPECT_EQ(reason(with("", "", {R"("attrs":{"\q":1})"})), RejectReason::kMalformedJson);
}

TEST_F(EventDecoderTest, RefusesAnythingButOneJsonObjectAsMalformed) {
  const std::string good = with("", "");
  ASSERT_TRUE(decode(good).ok);
  for (const std::string& line : std::vector<std::string>{
           std::string("{not json"),
           std::string("[1,2]"),
           std::string(R"("an event")"),
           std::string("42"),
           std::string("null"),
           good + " {}",
           good + "}",
           good + ",",
           good + " x",
           good.substr(0, good.size() - 1),
           R"({"id":"a" "subject":"s"})",
           with("", "", {R"("x":1,)"}) + "}",
           std::string(R"({"id":"a",})"),
           std::string("{,}"),
           std::string(R"({"id"})"),
           std::string(R"({id:"a"})"),
           std::string("{'id':'a'}"),
           with("", "", {"\"attrs\":{\"a\":1 2}"}),
           with("", "", {R"("attrs":{"a":[1,}})"}),
           with("", "", {R"("attrs":{"a":01})"}),
           with("", "", {R"("note":tru)"}),
           with("", "", {R"("note":nul)"}),
           with("", "", {R"("note":truex)"}),
           with("", "", {R"("note":[1 2])"}),
           with("", "", {R"("note":{"a"})"}),
           with("source", R"("source":fals)"),
           with("attrs", R"("attrs":nan)"),
       }) {
    EXPECT_EQ(reason(line), RejectReason::kMalformedJson) << line;
  }
  EXPECT_EQ(detail(good + " {}"), "trailing content after the object");
  // Surrounding whitespace is not content.
  EXPECT_TRUE(decode(" \t" + good + " \t").ok);
}

TEST_F(EventDecoderTest, BoundsNestingInSkippedValues) {
  const auto nested = [](int depth) {
    return with("", "",
                {R"("attrs":{"deep":)" + std::string(depth, '[') + std::string(depth, ']') + "}"});
  };
  EXPECT_TRUE(decode(nested(1000)).ok);
  EXPECT_EQ(reason(nested(1100)), RejectReason::kMalformedJson);
  EXPECT_EQ(detail(nested(1100)), "nested deeper than 1024 levels");
}

TEST_F(EventDecoderTest, IgnoresUnknownFields) {
  ASSERT_TRUE(decode(with("", "",
                          {R"("note":"x")", R"("note":"again")", R"("v":2)",
                           R"("nested":{"id":"inner","time":"no"})", R"("list":[{"type":1}])",
                           R"("flag":null)", R"("Id":"x")"}))
                  .ok);
  EXPECT_EQ(event_.id.view(), "e-1");  // the nested "id" is not the event's
}

TEST_F(EventDecoderTest, RefusesMissingRequiredFields) {
  for (const char* field : {"id", "subject", "type", "time"}) {
    const Verdict result = decode(with(field, ""));
    EXPECT_EQ(result.reason, RejectReason::kMissingField) << field;
    EXPECT_EQ(std::string(result.detail), std::string("field `") + field + "` is required");
  }
  EXPECT_EQ(reason("{}"), RejectReason::kMissingField);
  EXPECT_EQ(detail("{}"), "field `id` is required");
}

TEST_F(EventDecoderTest, RefusesFieldsOfTheWrongTypeOrEmpty) {
  for (const char* field : {"id", "subject", "type"}) {
    for (const char* value : {"7", "null", "true", "[]", R"(["a"])", R"({"a":"b"})", R"("")"}) {
      const Verdict result = decode(with(field, std::string("\"") + field + "\":" + value));
      EXPECT_EQ(result.reason, RejectReason::kBadField) << field << ": " << value;
      EXPECT_EQ(std::string(result.detail),
                std::string("field `") + field + "`: must be a non-empty string");
    }
  }
  for (const char* value : {"7", "null", "false", "[]", "{}"}) {
    EXPECT_EQ(reason(with("", "", {std::string(R"("source":)") + value})), RejectReason::kBadField)
        << value;
  }
  for (const char* value : {"[]", R"("lane 2")", "null", "3", "true"}) {
    const Verdict result = decode(with("", "", {std::string(R"("attrs":)") + value}));
    EXPECT_EQ(result.reason, RejectReason::kBadField) << value;
    EXPECT_STREQ(result.detail, "field `attrs`: must be an object");
  }
  // Optional fields: an empty source is no source; attrs may be empty.
  ASSERT_TRUE(decode(with("", "", {R"("source":"")", R"("attrs":{})"})).ok);
  EXPECT_TRUE(event_.source.empty());
}

TEST_F(EventDecoderTest, RefusesAFieldTheDecoderReadsGivenTwice) {
  for (const std::string& twice :
       {with("", "", {kId}), with("", "", {R"("subject":"someone else")"}), with("", "", {kType}),
        with("", "", {R"("time":0)"}), with("", "", {R"("source":"a")", R"("source":"b")"}),
        with("", "", {R"("attrs":{})", R"("attrs":{})"}),
        with("", "", {R"("revokes":"a")", R"("revokes":"b")"})}) {
    const Verdict result = decode(twice);
    EXPECT_EQ(result.reason, RejectReason::kBadField) << twice;
    EXPECT_NE(std::string(result.detail).find("appears more than once"), std::string::npos);
  }
}

TEST_F(EventDecoderTest, RefusesFieldsLongerThanTheirLimitAndAcceptsThemAtIt) {
  const auto field = [](const char* name, std::size_t bytes) {
    return std::string("\"") + name + "\":\"" + std::string(bytes, 'x') + "\"";
  };
  ASSERT_TRUE(decode(with("id", field("id", kMaxIdBytes))).ok);
  EXPECT_EQ(event_.id.size(), kMaxIdBytes);
  EXPECT_EQ(reason(with("id", field("id", kMaxIdBytes + 1))), RejectReason::kOversized);
  EXPECT_EQ(detail(with("id", field("id", kMaxIdBytes + 1))), "field `id`: longer than 64 bytes");
  ASSERT_TRUE(decode(with("subject", field("subject", kMaxSubjectBytes))).ok);
  EXPECT_EQ(event_.subject.size(), kMaxSubjectBytes);
  EXPECT_EQ(reason(with("subject", field("subject", kMaxSubjectBytes + 1))),
            RejectReason::kOversized);
  ASSERT_TRUE(decode(with("", "", {field("source", kMaxSourceBytes)})).ok);
  EXPECT_EQ(reason(with("", "", {field("source", kMaxSourceBytes + 1)})), RejectReason::kOversized);
  // The limit is in bytes after unescaping: "\u00e9" is 6 characters on the
  // wire and 2 bytes in the event.
  std::string e_acute;
  for (std::size_t i = 0; i < kMaxIdBytes / 2; ++i) e_acute += R"(\u00e9)";
  ASSERT_TRUE(decode(with("id", R"("id":")" + e_acute + "\"")).ok);
  EXPECT_EQ(event_.id.size(), kMaxIdBytes);
  EXPECT_EQ(reason(with("id", R"("id":")" + e_acute + "x\"")), RejectReason::kOversized);
}

TEST_F(EventDecoderTest, RefusesTypesWithoutARule) {
  const Verdict result = decode(with("type", R"("type":"parking")"));
  EXPECT_EQ(result.reason, RejectReason::kUnknownType);
  EXPECT_STREQ(result.detail, "field `type`: no rule for this type");
  EXPECT_EQ(reason(with("type", R"("type":")" + std::string(1000, 't') + "\"")),
            RejectReason::kUnknownType);
}

TEST_F(EventDecoderTest, DecodesRevokesAndRefusesBadOnes) {
  ASSERT_TRUE(decode(with("type", R"("type":"revoke")", {R"("revokes":"e-0")"})).ok);
  EXPECT_EQ(event_.type, &types_.revoke);
  EXPECT_EQ(event_.revokes.view(), "e-0");
  for (const std::string& revokes :
       {std::string(), std::string(R"("revokes":"")"), std::string(R"("revokes":7)"),
        std::string(R"("revokes":null)"), std::string(R"("revokes":["e-0"])")}) {
    std::vector<std::string> extra;
    if (!revokes.empty()) extra.push_back(revokes);
    const Verdict result = decode(with("type", R"("type":"revoke")", extra));
    EXPECT_EQ(result.reason, RejectReason::kBadRevoke) << revokes;
    EXPECT_STREQ(result.detail,
                 "a revoke needs `revokes`: the non-empty id of the event it cancels");
  }
  EXPECT_EQ(reason(with("type", R"("type":"revoke")", {R"("revokes":"e-1")"})),
            RejectReason::kBadRevoke);  // itself
  EXPECT_EQ(detail(with("type", R"("type":"revoke")", {R"("revokes":"e-1")"})),
            "a revoke cannot revoke itself (`revokes` equals `id`)");
  // No id is longer than 64 bytes, so neither is a usable `revokes`.
  ASSERT_TRUE(decode(with("type", R"("type":"revoke")",
                          {R"("revokes":")" + std::string(kMaxIdBytes, 'r') + "\""}))
                  .ok);
  EXPECT_EQ(reason(with("type", R"("type":"revoke")",
                        {R"("revokes":")" + std::string(kMaxIdBytes + 1, 'r') + "\""})),
            RejectReason::kOversized);
}

TEST_F(EventDecoderTest, IgnoresRevokesOnAnEventThatIsNotARevoke) {
  for (const std::string& revokes :
       {std::string(R"("revokes":"e-0")"), std::string(R"("revokes":"e-1")"),
        std::string(R"("revokes":"")"), std::string(R"("revokes":7)"),
        R"("revokes":")" + std::string(kMaxIdBytes + 1, 'r') + "\""}) {
    ASSERT_TRUE(decode(with("", "", {revokes})).ok) << revokes;
    EXPECT_TRUE(event_.revokes.empty()) << revokes;
  }
  // It must still be JSON.
  EXPECT_EQ(reason(with("", "", {R"("revokes":[1,])"})), RejectReason::kMalformedJson);
}

TEST_F(EventDecoderTest, KeepsARevokesReasonFromAttrs) {
  const std::string revoke = R"("type":"revoke")";
  const std::string target = R"("revokes":"e-0")";
  ASSERT_TRUE(decode(with("type", revoke,
                          {target, R"("attrs":{"case":"A-17","reason":"appeal upheld","n":[1]})"}))
                  .ok);
  EXPECT_EQ(event_.reason.view(), "appeal upheld");
  // In any order, and with escapes.
  ASSERT_TRUE(
      decode(with("type", revoke, {R"("attrs":{"reason":"camera \"misread\""})", target})).ok);
  EXPECT_EQ(event_.reason.view(), "camera \"misread\"");
  ASSERT_TRUE(decode(with("type", revoke, {target})).ok);
  EXPECT_TRUE(event_.reason.empty());
  // At its limit, and one past it.
  ASSERT_TRUE(
      decode(with("type", revoke,
                  {target, R"("attrs":{"reason":")" + std::string(kMaxReasonBytes, 'x') + "\"}"}))
          .ok);
  EXPECT_EQ(reason(with("type", revoke,
                        {target, R"("attrs":{"reason":")" + std::string(kMaxReasonBytes + 1, 'x') +
                                     "\"}"})),
            RejectReason::kOversized);
  EXPECT_EQ(reason(with("type", revoke, {target, R"("attrs":{"reason":7})"})),
            RejectReason::kBadField);
  EXPECT_EQ(reason(with("type", revoke, {target, R"("attrs":{"reason":"x","bad":[1,]})"})),
            RejectReason::kMalformedJson);
  // Another event's attrs are not kept, whatever their reason.
  ASSERT_TRUE(decode(with("", "", {R"("attrs":{"reason":7})"})).ok);
  EXPECT_TRUE(event_.reason.empty());
}

}  // namespace
}  // namespace tally::stream::decoder_test
