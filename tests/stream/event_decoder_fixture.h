// What the EventDecoder tests share: a type table, a sink that keeps what it
// is given, builders of lines, and a fixture that decodes one line.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "stream/event_decoder.h"

namespace tally::stream::decoder_test {

// A test-local type table: red_light (3 points), a Unicode-named type, and
// the built-in revoke. Lookups are byte-exact, as the scorer's are.
class TestTypes final : public EventTypeResolver {
 public:
  const EventTypeTerms* resolve(std::string_view type) const noexcept override {
    if (type == "red_light") return &red_light;
    if (type == "revoke") return &revoke;
    if (type == "\xC3\xA9t\xC3\xA9") return &ete;  // "été"
    return nullptr;
  }
  EventTypeTerms red_light{3, 1000, false};
  EventTypeTerms ete{1, kNever, false};
  EventTypeTerms revoke{0, kNever, true};
};

// A line's outcome, in the form the checks below read. `detail` is the
// rejection's static text (a literal, so it outlives the Status).
struct Verdict {
  bool ok = true;
  RejectReason reason = RejectReason::kMalformedJson;
  const char* detail = "";
};

inline Verdict verdict_of(const Status& status) {
  if (status.is_ok()) return {};
  EXPECT_EQ(status.code(), Status::Code::kRejected);
  return {false, reject_reason_of(status), status.message().data()};
}

struct Rejected {
  std::uint32_t line;
  std::string text;
  Verdict result;
};

struct CollectingSink final : DecodeSink {
  std::vector<Event> events;
  std::vector<Rejected> rejects;
  void on_event(const Event& event, std::uint32_t /*line_number*/) override {
    events.push_back(event);
  }
  void on_reject(std::uint32_t line, std::string_view text, const Status& why) override {
    rejects.push_back({line, std::string(text), verdict_of(why)});
  }
};

// A valid line, from its fields in the given order.
inline std::string object(const std::vector<std::string>& members) {
  std::string line = "{";
  for (const std::string& member : members) {
    if (line.size() > 1) line += ',';
    line += member;
  }
  return line + "}";
}

inline const std::string kId = R"("id":"e-1")";
inline const std::string kSubject = R"("subject":"plate:NY:ABC1234")";
inline const std::string kType = R"("type":"red_light")";
inline const std::string kTime = R"("time":"2024-03-01T12:30:00Z")";

// A line with the four required fields, `field` replaced by `member` (or
// left out, if `member` is empty; added, if `field` is not one of the four),
// then any extra members.
inline std::string with(const std::string& field, const std::string& member,
                        const std::vector<std::string>& extra = {}) {
  std::vector<std::string> members;
  bool replaced = false;
  for (const auto& [name, standard] : std::vector<std::pair<std::string, std::string>>{
           {"id", kId}, {"subject", kSubject}, {"type", kType}, {"time", kTime}}) {
    if (name != field) {
      members.push_back(standard);
      continue;
    }
    replaced = true;
    if (!member.empty()) members.push_back(member);
  }
  if (!replaced && !member.empty()) members.push_back(member);
  members.insert(members.end(), extra.begin(), extra.end());
  return object(members);
}

class EventDecoderTest : public ::testing::Test {
 protected:
  // Decodes one line through the batch path (which pads it).
  Verdict decode(const std::string& line) {
    CollectingSink sink;
    EXPECT_EQ(decoder_.decode_batch(line, types_, sink), 1u) << line;
    EXPECT_EQ(sink.events.size() + sink.rejects.size(), 1u) << line;
    if (!sink.events.empty()) {
      event_ = sink.events.front();
      return {};
    }
    if (sink.rejects.empty()) return {false, RejectReason::kMalformedJson, "nothing decoded"};
    EXPECT_EQ(sink.rejects[0].line, 1u);
    EXPECT_EQ(sink.rejects[0].text, line);
    EXPECT_NE(std::string_view(sink.rejects[0].result.detail), "") << line;
    return sink.rejects[0].result;
  }
  RejectReason reason(const std::string& line) {
    const Verdict result = decode(line);
    EXPECT_FALSE(result.ok) << line;
    return result.reason;
  }
  std::string detail(const std::string& line) { return decode(line).detail; }

  TestTypes types_;
  EventDecoder decoder_{DecoderOptions{4096}};
  Event event_;
};

}  // namespace tally::stream::decoder_test
