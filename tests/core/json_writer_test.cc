// The JSON writer: commas, nesting, numbers, and the escaper's two paths.
#include "core/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <limits>

namespace tally {
namespace {

TEST(JsonWriterTest, WritesNestedObjectsAndArraysWithCommasWhereDue) {
  std::string out;
  JsonWriter json(out);
  json.begin_object().field("subject", "plate:NY:A").field("score", 7).key("events");
  json.begin_array().value("e1").value("e2").begin_object().end_object().end_array();
  json.field("ok", true).key("none").null().end_object();
  EXPECT_EQ(out,
            R"({"subject":"plate:NY:A","score":7,"events":["e1","e2",{}],"ok":true,"none":null})");
}

TEST(JsonWriterTest, IntegersKeepEveryDigitAndSign) {
  std::string out;
  JsonWriter json(out);
  json.begin_array()
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::uint64_t>::max())
      .value(0)
      .end_array();
  EXPECT_EQ(out, "[-9223372036854775808,18446744073709551615,0]");
}

TEST(JsonWriterTest, DoublesRoundTripAndNonFiniteBecomesNull) {
  std::string out;
  JsonWriter json(out);
  json.begin_array().value(0.25).value(1e-6).value(std::numeric_limits<double>::infinity());
  json.end_array();
  EXPECT_EQ(out, "[0.25,1e-06,null]");
}

TEST(JsonWriterTest, RawValuesAreEmbeddedAsTheyAre) {
  std::string out;
  JsonWriter json(out);
  json.begin_object().raw_field("stats", R"({"a":1})").field("b", 2).end_object();
  EXPECT_EQ(out, R"({"stats":{"a":1},"b":2})");
}

TEST(JsonWriterTest, PlainKeysWriteAsKeysDo) {
  std::string plain, general;
  JsonWriter a(plain), b(general);
  const std::string long_name(70, 'k');  // past the one-append path
  a.begin_object().plain_key("id").value("x").plain_key("fine_amount").value(7);
  a.plain_key(long_name).begin_array().end_array().plain_key("Kind-2").null().end_object();
  b.begin_object().key("id").value("x").key("fine_amount").value(7);
  b.key(long_name).begin_array().end_array().key("Kind-2").null().end_object();
  EXPECT_EQ(plain, general);
  EXPECT_TRUE(plain.starts_with(R"({"id":"x","fine_amount":7,"kkk)")) << plain;
}

TEST(JsonEscapeTest, PlainAsciiIsCopiedWhole) {
  std::string out;
  append_json_string(out, "plate:NY:ABC1234 and a long tail of plain text");
  EXPECT_EQ(out, "\"plate:NY:ABC1234 and a long tail of plain text\"");
}

TEST(JsonEscapeTest, SpecialsAreEscapedWhereverTheyFallInAWord) {
  // Each special at every offset of an 8-byte word, so both paths are seen.
  for (std::size_t at = 0; at < 16; ++at) {
    for (const char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
      std::string text(16, 'a');
      text[at] = special;
      std::string out;
      append_json_string(out, text);
      simdjson::dom::parser parser;
      simdjson::padded_string padded(out);
      std::string_view back;
      ASSERT_EQ(parser.parse(padded).get(back), simdjson::SUCCESS) << out;
      EXPECT_EQ(back, text);
    }
  }
}

TEST(JsonEscapeTest, ValidUtf8PassesAndInvalidBecomesReplacement) {
  std::string out;
  append_json_string(out,
                     "Stra\xC3\x9F"
                     "e");
  EXPECT_EQ(out,
            "\"Stra\xC3\x9F"
            "e\"");
  out.clear();
  append_json_string(out,
                     "a\xFF"
                     "b\xC3");
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace tally
