// Mappings and the record reader on real rows: the NYC export as CSV (CRLF,
// BOM, quoted commas, empty cells) and as JSON, ANPR JSON lines, and a
// back-office decision file; and the mapping format's refusals.
#include "adapters/mapping.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "adapters/mapping_presets.h"
#include "adapters/pseudonymiser.h"
#include "adapters/record_reader.h"
#include "core/json_writer.h"

namespace tally::adapters {
namespace {

// A ByteSource over a string, handed out in small reads to exercise refills.
class TextSource final : public ByteSource {
 public:
  explicit TextSource(std::string text) : text_(std::move(text)) {}
  Read read(char* into, std::size_t size) override {
    const std::size_t n = std::min({size, text_.size() - at_, std::size_t{7}});
    if (n == 0) return {0, State::kEnd};
    std::copy_n(text_.data() + at_, n, into);
    at_ += n;
    return {n, State::kData};
  }
  const std::string& error() const override { return error_; }
  std::uint64_t consumed() const override { return at_; }
  std::uint64_t total() const override { return text_.size(); }

 private:
  std::string text_, error_;
  std::size_t at_ = 0;
};

Mapping preset(std::string_view name) {
  const MappingPreset* found = find_mapping_preset(name);
  EXPECT_NE(found, nullptr) << name;
  auto mapping = Mapping::parse(found->toml, std::string(name));
  EXPECT_TRUE(mapping) << mapping.status().to_string();
  return std::move(*mapping);
}

Mapping parse(std::string_view toml) {
  auto mapping = Mapping::parse(toml, "test.toml");
  EXPECT_TRUE(mapping) << mapping.status().to_string();
  return std::move(*mapping);
}

// Each record: its event NDJSON, or "reject <reason>: <detail>" / "skip <reason>".
std::vector<std::string> map_all(Mapping& mapping, std::string text) {
  TextSource source(std::move(text));
  RecordReader reader(source, mapping.format(), mapping.delimiter());
  std::vector<std::string> out;
  for (;;) {
    const auto next = reader.next();
    if (next == RecordReader::Next::kEnd) break;
    if (next == RecordReader::Next::kError) {
      out.push_back("error " + reader.error());
      break;
    }
    if (next == RecordReader::Next::kRejected) {
      out.push_back(fmt::format("reject {}: {} (line {})", record_issue_name(reader.issue()),
                                reader.detail(), reader.line()));
      continue;
    }
    std::string line;
    const MapResult result = mapping.map(reader.record(), line);
    if (result.issue == RecordIssue::kNone) {
      out.push_back(line);
    } else {
      out.push_back(fmt::format("{} {}: {}", is_skip(result.issue) ? "skip" : "reject",
                                record_issue_name(result.issue), result.detail));
    }
  }
  return out;
}

constexpr const char* kNycHeader =
    "Plate,State,License Type,Summons Number,Issue Date,Violation Time,Violation,Judgment Entry "
    "Date,Fine Amount,Penalty Amount,Interest Amount,Reduction Amount,Payment Amount,Amount "
    "Due,Precinct,County,Issuing Agency,Violation Status,Summons Image\r\n";

TEST(FieldKeyTest, NormalisesNamesAndTypes) {
  EXPECT_EQ(field_key("PHTO SCHOOL ZN SPEED VIOLATION"), "phto_school_zn_speed_violation");
  EXPECT_EQ(field_key("REG. STICKER-EXPIRED/MISSING"), "reg_sticker_expired_missing");
  EXPECT_EQ(field_key("INSP STICKER-MUTILATED/C'FEIT"), "insp_sticker_mutilated_c_feit");
  EXPECT_EQ(field_key("  --Summons Number--  "), "summons_number");
  EXPECT_EQ(field_key("Caf\xC3\xA9 2"), "caf_2");
  EXPECT_EQ(field_key("..."), "");
}

TEST(NycCameraPresetTest, MapsRealCsvRowsExactly) {
  Mapping mapping = preset("nyc-camera");
  // Real rows of the export (CRLF), one with a status, one at 12:xxP, one at 00:xxA.
  const auto out = map_all(
      mapping, std::string("\xEF\xBB\xBF") + kNycHeader +
                   "JPT2306,NY,PAS,8713353457,10/13/2020,02:45P,FAIL TO DSPLY MUNI METER "
                   "RECPT,,35.00,0.00,0.00,0.00,35.00,0.00,062,K,TRAFFIC,,View Summons "
                   "(http://nycserv.nyc.gov/x)\r\n"
                   "HKB2996,NY,PAS,8815982425,12/04/2020,12:57P,REG. "
                   "STICKER-EXPIRED/MISSING,,65.00,0.00,0.00,0.00,65.00,0.00,028,NY,TRAFFIC,APPEAL "
                   "AFFIRMED,\r\n"
                   " l25lxe ,nj,PAS,8848491765,12/02/2020,00:29A,NO PARKING-STREET "
                   "CLEANING,,65.00,0.00,0.00,0.00,65.00,0.00,070,K,TRAFFIC,,\r\n");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(
      out[0],
      R"({"id":"nyc:8713353457","subject":"plate:NY:JPT2306","type":"fail_to_dsply_muni_meter_recpt",)"
      R"("time":"2020-10-13T14:45:00Z","source":"TRAFFIC","attrs":{"license_type":"PAS",)"
      R"("fine_amount":"35.00","penalty_amount":"0.00","interest_amount":"0.00",)"
      R"("reduction_amount":"0.00","payment_amount":"35.00","amount_due":"0.00",)"
      R"j("precinct":"062","county":"K","summons_image":"View Summons (http://nycserv.nyc.gov/x)"}})j");
  EXPECT_NE(out[1].find(R"("type":"reg_sticker_expired_missing","time":"2020-12-04T12:57:00Z")"),
            std::string::npos)
      << out[1];
  EXPECT_NE(out[1].find(R"("violation_status":"APPEAL AFFIRMED")"), std::string::npos) << out[1];
  EXPECT_EQ(out[1].find("summons_image"), std::string::npos) << "empty cells are left out";
  EXPECT_NE(out[2].find(R"("subject":"plate:NJ:L25LXE")"), std::string::npos) << out[2];
  EXPECT_NE(out[2].find(R"("time":"2020-12-02T00:29:00Z")"), std::string::npos) << out[2];
}

TEST(NycCameraPresetTest, RejectsMissingCellsAndBadDatesWithReasons) {
  Mapping mapping = preset("nyc-camera");
  const auto out = map_all(
      mapping, std::string(kNycHeader) +
                   // Real: no time and no violation.
                   "TN141850,AL,PAS,8568458129,02/23/2018,,,,,,,,,,,,,,View Summons\r\n"
                   // The full dataset's impossible date.
                   "ABC1234,NY,PAS,1000000001,11/31/2020,09:15A,FIRE HYDRANT,,115.00,,,,,,,,,,\r\n"
                   "ABC1234,NY,PAS,1000000002,11/30/2020,09:15A,,,115.00,,,,,,,,,,\r\n"
                   ",NY,PAS,1000000003,11/30/2020,09:15A,FIRE HYDRANT,,115.00,,,,,,,,,,\r\n"
                   "ABC1234,NY,PAS,1000000004,11/30/2020,9:15,FIRE HYDRANT,,115.00,,,,,,,,,,\r\n");
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], "reject missing_field: Violation Time is empty");
  EXPECT_EQ(out[1], "reject bad_time: \"11/31/2020 09:15A\": 2020-11-31 is not a date");
  EXPECT_EQ(out[2], "reject missing_field: Violation is empty");
  EXPECT_EQ(out[3], "reject missing_field: Plate is empty");
  EXPECT_EQ(out[4],
            "reject bad_time: \"11/30/2020 9:15\" does not match the time format \"%m/%d/%Y "
            "%I:%M%p\"");
}

TEST(NycCameraPresetTest, QuotedCommasAndLineBreaksInCells) {
  Mapping mapping = preset("nyc-camera");
  const auto out = map_all(
      mapping,
      std::string(kNycHeader) +
          "ABC1234,NY,PAS,1000000005,03/01/2021,12:00A,\"NO STANDING, BUS "
          "\"\"STOP\"\"\",,115.00,,,,,,,\"K\r\nQ\",\"DEPT, OF \"\"TRANSPORTATION\"\"\",,\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find(R"("type":"no_standing_bus_stop")"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find(R"("time":"2021-03-01T00:00:00Z")"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find(R"("source":"DEPT, OF \"TRANSPORTATION\"")"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find(R"("county":"K\r\nQ")"), std::string::npos) << out[0];
}

TEST(NycCameraPresetTest, ReadsTheJsonApiFormToTheSameEvents) {
  Mapping mapping = preset("nyc-camera");
  const auto out = map_all(mapping, R"([
 {"plate": "JPT2306", "state": "NY", "license_type": "PAS", "summons_number": "8713353457",
  "issue_date": "10/13/2020", "violation_time": "02:45P",
  "violation": "FAIL TO DSPLY MUNI METER RECPT", "fine_amount": "35", "county": "K",
  "issuing_agency": "TRAFFIC",
  "summons_image": {"url": "http://nycserv.nyc.gov/x", "description": "View Summons"}},
 {"plate": "TN141850", "state": "AL", "summons_number": "8568458129", "issue_date": "02/23/2018"},
 7
])");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(
      out[0],
      R"({"id":"nyc:8713353457","subject":"plate:NY:JPT2306","type":"fail_to_dsply_muni_meter_recpt",)"
      R"("time":"2020-10-13T14:45:00Z","source":"TRAFFIC","attrs":{"license_type":"PAS",)"
      R"("fine_amount":"35","county":"K","summons_image":{"url":"http://nycserv.nyc.gov/x",)"
      R"("description":"View Summons"}}})");
  EXPECT_EQ(out[1], "reject missing_field: Violation Time is absent");
  EXPECT_EQ(out[2], "reject not_an_object: an element of the array is not a JSON object (line 3)");
}

TEST(NycCameraPresetTest, ACsvRowWithMoreFieldsThanTheHeaderIsRejected) {
  Mapping mapping = preset("nyc-camera");
  const auto out = map_all(mapping, "Plate,State\r\nA,B,C\r\n\r\nA,\"B\r\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "reject csv_column_count: 3 fields, the header has 2 (line 2)");
  EXPECT_EQ(out[1],
            "reject csv_unterminated: a quoted field is still open at the end of the input "
            "(line 4)");
}

TEST(NycHearingsPresetTest, NotGuiltyRevokesGuiltyResendsOthersAreSkipped) {
  Mapping mapping = preset("nyc-hearings");
  const auto out = map_all(
      mapping,
      std::string(kNycHeader) +
          "HMU5559,NY,PAS,4675955897,01/08/2020,11:51A,PHTO SCHOOL ZN SPEED "
          "VIOLATION,,50.00,,,,,,000,BX,DEPARTMENT OF TRANSPORTATION,HEARING HELD-NOT GUILTY,\r\n"
          "HMU5559,NY,PAS,4675955898,01/09/2020,11:51A,PHTO SCHOOL ZN SPEED "
          "VIOLATION,,50.00,,,,,,000,BX,DEPARTMENT OF TRANSPORTATION,hearing held-guilty ,\r\n"
          "HMU5559,NY,PAS,4675955899,01/10/2020,11:51A,PHTO SCHOOL ZN SPEED "
          "VIOLATION,,50.00,,,,,,000,BX,DEPARTMENT OF TRANSPORTATION,,\r\n"
          "HMU5559,NY,PAS,4675955900,01/10/2020,11:51A,PHTO SCHOOL ZN SPEED "
          "VIOLATION,,50.00,,,,,,000,BX,DEPARTMENT OF TRANSPORTATION,HEARING ADJOURNMENT,\r\n");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0],
            R"({"id":"nyc:4675955897:quashed","subject":"plate:NY:HMU5559","type":"revoke",)"
            R"("revokes":"nyc:4675955897","time":"2020-01-08T11:51:00Z",)"
            R"("source":"DEPARTMENT OF TRANSPORTATION"})");
  EXPECT_NE(
      out[1].find(
          R"({"id":"nyc:4675955898","subject":"plate:NY:HMU5559","type":"phto_school_zn_speed_violation")"),
      std::string::npos)
      << out[1];
  EXPECT_EQ(out[2], "skip not_a_decision: Violation Status is \"\"");
  EXPECT_EQ(out[3], "skip not_a_decision: Violation Status is \"HEARING ADJOURNMENT\"");
}

TEST(AnprPresetTest, SpeedBandsFromMeasuredAndLimit) {
  Mapping mapping = preset("anpr-json");
  const auto read = [](std::string_view speed, std::string_view extra = "") {
    return fmt::format(
        R"({{"read_id":"r1","camera_id":"C1","timestamp":"2025-03-01T08:31:22Z","plate":"ab 12","region":"ny","speed_mph":{},"limit_mph":45,"violation":"SPEED"{}}})",
        speed, extra);
  };
  const auto out = map_all(
      mapping,
      read("45") + "\n" + read("46") + "\n" + read("55") + "\n" + read("56") + "\n" + read("85.5") +
          "\n" + read("86") + "\n" + read("\"n/a\"") + "\n" +
          R"({"read_id":"r2","camera_id":"C1","timestamp":"2025-03-01T08:31:22Z","plate":"AB12","region":"NY","violation":"RED_LIGHT"})" +
          "\n" +
          R"({"read_id":"r3","camera_id":"C1","timestamp":"2025-03-01T08:31:22Z","plate":"AB12","region":"NY","violation":"U_TURN"})" +
          "\n");
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0], "skip below_speed_bands: 0 over the limit");
  const auto type_of = [](const std::string& event) {
    const auto at = event.find("\"type\":\"") + 8;
    return event.substr(at, event.find('"', at) - at);
  };
  EXPECT_EQ(type_of(out[1]), "speeding_1_10");
  EXPECT_EQ(type_of(out[2]), "speeding_1_10");
  EXPECT_EQ(type_of(out[3]), "speeding_11_20");
  EXPECT_EQ(type_of(out[4]), "speeding_31_40");
  EXPECT_EQ(type_of(out[5]), "speeding_over_40");
  EXPECT_EQ(out[6].rfind("reject bad_speed:", 0), 0u) << out[6];
  EXPECT_EQ(type_of(out[7]), "red_light");
  EXPECT_EQ(out[8], "reject unmapped_type: \"U_TURN\" is not in the mapping's [types]");
  EXPECT_NE(
      out[1].find(
          R"("subject":"plate:NY:AB12","type":"speeding_1_10","time":"2025-03-01T08:31:22Z","source":"C1","attrs":{"speed_mph":46,"limit_mph":45}})"),
      std::string::npos)
      << out[1];
}

TEST(MappingFormatTest, AGenericCsvMappingWithTypesTableAndAttrList) {
  Mapping mapping = parse(R"(
[input]
format = "csv"
delimiter = ";"
[event]
subject = "vehicle:{Kennzeichen|nospace|upper}"
id = "cam7:{Nr}"
type = "{Code}"
time = "{Datum} {Zeit}"
time_format = "%d.%m.%Y %H:%M:%S"
attrs = ["Ort"]
unmapped_types = "keep"
[types]
"R1" = "red_light"
)");
  const auto out = map_all(mapping,
                           "Nr;Kennzeichen;Code;Datum;Zeit;Ort;Fahrer\n"
                           "17;b-ab 123;R1;03.02.2025;07:30:05;Alexanderplatz;Max\n"
                           "18;B-AB 123;Z9;03.02.2025;07:31:00;;Max\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(
      out[0],
      R"({"id":"cam7:17","subject":"vehicle:B-AB123","type":"red_light","time":"2025-02-03T07:30:05Z","attrs":{"ort":"Alexanderplatz"}})");
  EXPECT_EQ(
      out[1],
      R"({"id":"cam7:18","subject":"vehicle:B-AB123","type":"Z9","time":"2025-02-03T07:31:00Z"})");
}

TEST(MappingFormatTest, ValuesNeedingEscapesAnywhereInTheTextAreEscaped) {
  Mapping mapping = parse(R"(
[event]
subject = "s:{a}"
id = "{b}"
type = "t"
time = "{c}"
attrs = ["d"]
)");
  // The special byte at every offset, past the 8-byte blocks the scan reads.
  for (const std::string special : {"\\", "\"", "\x01", "\xC3\xA9", "\xFF"}) {
    for (std::size_t at = 0; at < 20; ++at) {
      const std::string value = std::string(at, 'x') + special + std::string(3, 'y');
      std::string json_value;
      append_json_string(json_value, value);
      std::string line;
      line += R"({"a":"1","b":"2","c":"2025-01-01T00:00:00Z","d":)" + json_value + "}\n";
      const auto out = map_all(mapping, line);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_NE(out[0].find(R"("attrs":{"d":)" + json_value + "}"), std::string::npos)
          << out[0] << " for offset " << at;
    }
  }
}

TEST(MappingFormatTest, OversizedIdsAreRejectedBeforeTallydSeesThem) {
  Mapping mapping = parse(R"(
[event]
subject = "s:{a}"
id = "{b}"
type = "t"
time = "{c}"
time_format = "epoch_ms"
)");
  const auto out =
      map_all(mapping, R"({"a":"x","b":")" + std::string(65, 'i') + R"(","c":"1"})" + "\n" +
                           R"({"a":"x","b":"ok","c":1700000000000,"d":null,"e":true})" + "\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].rfind("reject oversized: id 65 bytes (max 64)", 0), 0u) << out[0];
  EXPECT_EQ(
      out[1],
      R"({"id":"ok","subject":"s:x","type":"t","time":"2023-11-14T22:13:20Z","attrs":{"e":true}})");
}

TEST(MappingFormatTest, RefusesBadMappingsWithLineAndReason) {
  const auto refusal = [](std::string_view toml) {
    const auto mapping = Mapping::parse(toml, "m.toml");
    EXPECT_FALSE(mapping) << toml;
    EXPECT_EQ(mapping.status().code(), Status::Code::kInvalidArgument);
    return std::string(mapping.status().message());
  };
  EXPECT_EQ(refusal("[input]\nformat = "
                    "\"xml\"\n[event]\nsubject=\"{a}\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\n"),
            "m.toml: line 2: [input] format must be \"csv\", \"json\" or \"auto\"");
  EXPECT_EQ(refusal("[event]\nsubject=\"{a}\"\nid=\"{b}\"\ntime=\"{c}\"\n"),
            "m.toml: [event] needs type (or a [speed] section)");
  EXPECT_EQ(refusal("[event]\nsubject=\"{a|shout}\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\n"),
            "m.toml: line 2: template \"{a|shout}\": unknown filter \"shout\" (known: upper, "
            "lower, slug, nospace)");
  EXPECT_EQ(refusal("[event]\nsubject=\"{a\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\n"),
            "m.toml: line 2: template \"{a\": a { without its }");
  EXPECT_EQ(
      refusal(
          "[event]\nsubject=\"{a}\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\ntime_format=\"%H\"\n"),
      "m.toml: line 6: time format \"%H\" needs a date: %Y, %m and %d");
  EXPECT_EQ(refusal("[event]\nsubject=\"{a}\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\ncolour=1\n"),
            "m.toml: line 6: unknown key \"colour\" in [event] (known: subject, id, type, time, "
            "time_format, time_zone, source, attrs, attrs_exclude, unmapped_types)");
  EXPECT_NE(refusal("[event\n").find("m.toml: line 1:"), std::string::npos);
  EXPECT_EQ(refusal("[event]\nsubject=\"{a}\"\nid=\"{b}\"\ntype=\"t\"\ntime=\"{c}\"\n"
                    "[decision]\nfield=\"d\"\nupheld=[\"u\"]\n"),
            "m.toml: [decision] needs upheld = [...] and quashed = [...]");
}

TEST(MappingFormatTest, EveryPresetParsesAndMatchesItsFile) {
  for (const MappingPreset& preset : mapping_presets()) {
    const auto parsed = Mapping::parse(preset.toml, std::string(preset.name));
    EXPECT_TRUE(parsed) << parsed.status().to_string();
    std::ifstream file(std::string(TALLY_SOURCE_DIR) + "/config/mappings/" +
                       std::string(preset.name) + ".toml");
    std::stringstream text;
    text << file.rdbuf();
    EXPECT_EQ(text.str(), preset.toml) << preset.name;
  }
  const auto loaded =
      Mapping::load(std::string(TALLY_SOURCE_DIR) + "/config/mappings/backoffice-decisions.toml");
  EXPECT_TRUE(loaded) << loaded.status().to_string();
}

TEST(MappingFormatTest, PseudonymisedSubjectsLeaveTheRawPlateOut) {
  Mapping mapping = preset("nyc-camera");
  const auto pseudonymiser = Pseudonymiser::from_hex(std::string(64, 'a'));
  ASSERT_TRUE(pseudonymiser) << pseudonymiser.status().to_string();
  mapping.set_pseudonymiser(&*pseudonymiser);
  const auto out = map_all(
      mapping, std::string(kNycHeader) +
                   "JPT2306,NY,PAS,8713353457,10/13/2020,02:45P,FIRE HYDRANT,,,,,,,,,,,,\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].find("JPT2306"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("\"subject\":\"" + pseudonymiser->pseudonym("plate:NY:JPT2306") + "\""),
            std::string::npos)
      << out[0];
}

}  // namespace
}  // namespace tally::adapters
