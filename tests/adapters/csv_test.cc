// The RFC 4180 parser on the shapes real exports take.
#include "adapters/csv.h"

#include <gtest/gtest.h>

namespace tally::adapters {
namespace {

std::vector<std::string> fields_of(const CsvParser& parser) {
  return {parser.fields().begin(), parser.fields().end()};
}

TEST(CsvParserTest, SplitsPlainFieldsAndKeepsEmptyOnes) {
  CsvParser parser;
  ASSERT_EQ(parser.feed("a,,c,"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"a", "", "c", ""}));
  ASSERT_EQ(parser.feed(""), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{""}));
}

TEST(CsvParserTest, QuotedFieldsHoldCommasAndDoubledQuotes) {
  CsvParser parser;
  ASSERT_EQ(parser.feed(R"(1,"Manhattan North TVB, Part 2","say ""hi""",x)"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser),
            (std::vector<std::string>{"1", "Manhattan North TVB, Part 2", "say \"hi\"", "x"}));
  ASSERT_EQ(parser.feed(R"("","""")"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"", "\""}));
}

TEST(CsvParserTest, DropsTheCrOfCrlfButKeepsOtherCrs) {
  CsvParser parser;
  ASSERT_EQ(parser.feed("a,b\r"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(parser.feed("a,\"b\"\r"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(parser.feed("a\rb,c"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"a\rb", "c"}));
}

TEST(CsvParserTest, AQuotedLineBreakSpansFeeds) {
  CsvParser parser;
  EXPECT_EQ(parser.feed("1,\"first line\r"), CsvStatus::kNeedMore);
  EXPECT_TRUE(parser.open());
  EXPECT_EQ(parser.feed("second, line\",3\r"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"1", "first line\r\nsecond, line", "3"}));
  EXPECT_EQ(parser.lines_in_record(), 2u);
  EXPECT_FALSE(parser.open());
}

TEST(CsvParserTest, SkipsAByteOrderMarkOnlyAtTheStart) {
  CsvParser parser;
  ASSERT_EQ(parser.feed("\xEF\xBB\xBFPlate,State"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"Plate", "State"}));
  ASSERT_EQ(parser.feed("\xEF\xBB\xBFx"), CsvStatus::kRecord);
  EXPECT_EQ(parser.fields()[0], "\xEF\xBB\xBFx");
}

TEST(CsvParserTest, RefusesStrayQuotesWithAReason) {
  CsvParser parser;
  EXPECT_EQ(parser.feed(R"(a,b"c,d)"), CsvStatus::kBadQuote);
  EXPECT_NE(parser.error().find("field 2"), std::string::npos) << parser.error();
  EXPECT_EQ(parser.feed(R"(a,"b"c,d)"), CsvStatus::kBadQuote);
  EXPECT_NE(parser.error().find("after its closing quote"), std::string::npos) << parser.error();
  // The parser recovers for the next record.
  EXPECT_EQ(parser.feed("e,f"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"e", "f"}));
}

TEST(CsvParserTest, AnOpenQuoteAtTheEndIsUnterminated) {
  CsvParser parser;
  EXPECT_EQ(parser.feed("a,\"never closed"), CsvStatus::kNeedMore);
  EXPECT_EQ(parser.finish(), CsvStatus::kUnterminated);
  EXPECT_EQ(parser.finish(), CsvStatus::kRecord);  // nothing left open
}

TEST(CsvParserTest, DelimitersAndQuotesAreFoundAtEveryOffset) {
  // Around and past the eight-byte blocks the scan reads, high bytes included.
  for (std::size_t at = 1; at < 20; ++at) {
    const std::string before(at, '\xC3'), after(at % 9, 'y');
    CsvParser parser;
    const std::string row = before + "," + after + ",z";  // fields point into it
    ASSERT_EQ(parser.feed(row), CsvStatus::kRecord) << at;
    EXPECT_EQ(fields_of(parser), (std::vector<std::string>{before, after, "z"})) << at;
    const std::string stray = before + "\"" + after;
    EXPECT_EQ(parser.feed(stray), CsvStatus::kBadQuote) << at;
    EXPECT_NE(parser.error().find("column " + std::to_string(at + 1)), std::string::npos)
        << parser.error();
  }
}

TEST(CsvParserTest, ARecordOfSeveralLinesOutlivesTheBufferItCameFrom) {
  CsvParser parser;
  std::string line = "1,\"first part";
  EXPECT_EQ(parser.feed(line), CsvStatus::kNeedMore);
  line.assign("XXXXXXXXXXXXXXXXX");  // a line reader's buffer, reused
  EXPECT_EQ(parser.feed("second\",3"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"1", "first part\nsecond", "3"}));
  EXPECT_EQ(parser.raw(), "1,\"first part\nsecond\",3");
}

TEST(CsvParserTest, OtherDelimiters) {
  CsvParser parser(';');
  ASSERT_EQ(parser.feed("a;\"b;c\";d,e"), CsvStatus::kRecord);
  EXPECT_EQ(fields_of(parser), (std::vector<std::string>{"a", "b;c", "d,e"}));
}

}  // namespace
}  // namespace tally::adapters

namespace tally::adapters {
namespace {

TEST(CsvBoundsTest, AStrayQuoteCannotHoldTheRestOfTheInput) {
  CsvParser parser(',', 100);
  EXPECT_EQ(parser.feed(R"(a,"b)"), CsvStatus::kNeedMore);
  CsvStatus status = CsvStatus::kNeedMore;
  int lines = 0;
  while (status == CsvStatus::kNeedMore) {
    status = parser.feed("0123456789");
    ++lines;
  }
  EXPECT_EQ(status, CsvStatus::kBadQuote);
  EXPECT_EQ(lines, 9);  // past 100 bytes
  EXPECT_NE(parser.error().find("stray quote"), std::string::npos) << parser.error();
  // Reading goes on at the next line.
  ASSERT_EQ(parser.feed("x,y"), CsvStatus::kRecord);
  ASSERT_EQ(parser.fields().size(), 2u);
  EXPECT_EQ(parser.fields()[1], "y");
}

TEST(CsvBoundsTest, AQuotedFieldOverManyLinesIsStillOneRecord) {
  CsvParser parser;
  EXPECT_EQ(parser.feed(R"(id,"first)"), CsvStatus::kNeedMore);
  EXPECT_EQ(parser.feed(R"(with ""quotes"" inside)"), CsvStatus::kNeedMore);
  ASSERT_EQ(parser.feed(R"(last",tail)"), CsvStatus::kRecord);
  ASSERT_EQ(parser.fields().size(), 3u);
  EXPECT_EQ(parser.fields()[1], "first\nwith \"quotes\" inside\nlast");
  EXPECT_EQ(parser.fields()[2], "tail");
  EXPECT_EQ(parser.lines_in_record(), 3u);
}

}  // namespace
}  // namespace tally::adapters
