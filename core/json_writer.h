// Writing JSON text: the one place that escapes strings and puts commas, used
// by query answers, alerts, batch acknowledgements, the dead-letter file and
// the adapters' events. (Reading JSON is simdjson's job.)
//
//   std::string out;
//   JsonWriter json(out);
//   json.begin_object().field("subject", s).field("score", 7).key("events");
//   json.begin_array().value("e1").end_array().end_object();
//   // {"subject":"plate:NY:A","score":7,"events":["e1"]}
//
// Strings: control characters, '"' and '\\' are escaped; bytes >= 0x80 pass
// through when they are valid UTF-8 and become U+FFFD when not, so the output
// is always valid JSON (a dead-letter record copies raw input). Plain
// printable ASCII, the common case, is found eight bytes at a time and
// copied in one go.
//
// Thread-safety: a JsonWriter writes to its caller's string; one per thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace tally {

// Appends `text` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view text);

class JsonWriter {
 public:
  // Nesting deeper than this is a bug in the caller (asserted in debug builds).
  static constexpr std::size_t kMaxDepth = 32;

  // Appends to `out` (which it does not clear).
  explicit JsonWriter(std::string& out) noexcept : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // An object's key; the next call writes its value.
  JsonWriter& key(std::string_view name);
  // A key made only of ASCII letters, digits, '_' and '-' (a literal, a
  // normalised field name): copied without the escape scan, which is most of
  // a short key's cost on a hot path. Checked in debug builds.
  JsonWriter& plain_key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(bool flag);
  JsonWriter& value(double number);  // finite numbers; NaN and infinities write null
  JsonWriter& null();
  template <
      typename Integer,
      std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>, int> = 0>
  JsonWriter& value(Integer number) {
    return integer(std::is_signed_v<Integer> ? static_cast<std::int64_t>(number) : 0,
                   std::is_signed_v<Integer> ? 0 : static_cast<std::uint64_t>(number),
                   std::is_signed_v<Integer>);
  }
  // Text that is already JSON (an answer built elsewhere), written as a value.
  JsonWriter& raw(std::string_view json);

  // key(name) then value(v).
  template <typename Value>
  JsonWriter& field(std::string_view name, const Value& v) {
    key(name);
    return value(v);
  }
  JsonWriter& raw_field(std::string_view name, std::string_view json) {
    key(name);
    return raw(json);
  }

  std::string& out() noexcept { return out_; }

 private:
  // Whether a comma goes before the next key or value (and notes that an
  // item follows).
  bool comma_owed() noexcept;
  void before_value();
  JsonWriter& integer(std::int64_t signed_value, std::uint64_t unsigned_value, bool is_signed);

  std::string& out_;
  std::size_t depth_ = 0;
  // Per open container: whether a value was written (a comma is owed).
  std::array<bool, kMaxDepth + 1> has_item_{};
  bool after_key_ = false;
};

}  // namespace tally
