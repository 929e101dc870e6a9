// The event decoder over one arbitrary batch: every line is decoded or
// refused with a reason, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scorer/rules.h"
#include "stream/event_decoder.h"

namespace {

struct CountingSink final : tally::stream::DecodeSink {
  void on_event(const tally::Event&, std::uint32_t) override { ++events; }
  void on_reject(std::uint32_t, std::string_view, const tally::Status&) override { ++rejects; }
  std::size_t events = 0;
  std::size_t rejects = 0;
};

const tally::scorer::RuleSet& rules() {
  static const auto set = *tally::scorer::parse_rules(
      "[rules.red_light]\npoints = 3\nexpires_after = \"540d\"\n[rules.speeding]\npoints = 4\n",
      "fuzz.toml", 1);
  return *set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tally::stream::EventDecoder decoder{tally::stream::DecoderOptions{4096}};
  CountingSink sink;
  decoder.decode_batch(std::string_view(reinterpret_cast<const char*>(data), size), rules(), sink);
  return 0;
}
