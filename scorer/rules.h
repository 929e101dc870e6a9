// The rule table: what an event type is worth, how long it counts, the score's
// base and clamp, the clock, retention, and the named tiers.
//
// A RuleSet is loaded from a TOML file (format: docs/rules.md and the brief),
// validated completely, and is immutable afterwards. A reload builds a new
// RuleSet and publishes it; events keep a pointer to the Rule they were decoded
// with, so every RuleSet ever published is kept alive for the life of the
// process (a reload costs the size of its file, and reloads are rare).
//
// Thread-safety: immutable after load; safe to read from any thread.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace tally::scorer {

// One event type's terms. Extends the slice the decoder needs with what
// explain and `tally rules check` show.
struct Rule : EventTypeTerms {
  std::string name;
  std::string description;
  std::uint32_t rules_version = 0;  // the RuleSet::version() it came from
};

// A tier's name travels in every alert and in the journal's alert records.
inline constexpr std::size_t kMaxTierNameBytes = 256;

struct Tier {
  std::string name;
  std::int64_t min = 0;
};

enum class Clock : std::uint8_t {
  kWall,   // "now" is the wall clock
  kEvent,  // "now" is the largest event time seen (for replaying history)
};

struct ScoreConfig {
  std::int64_t base = 0;
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  Clock clock = Clock::kWall;
  // Expired contributions and seen ids are kept this long after they expire.
  std::int64_t retain_ms = 730LL * 24 * 3600 * 1000;
};

class RuleSet final : public EventTypeResolver {
 public:
  // The built-in type name that cancels an earlier event.
  static constexpr std::string_view kRevokeType = "revoke";

  const EventTypeTerms* resolve(std::string_view type) const noexcept override;
  const Rule* find(std::string_view type) const noexcept;

  // The Rule an event's terms belong to. Every EventTypeTerms handed out by
  // resolve() is a Rule, so this is a static downcast.
  static const Rule& rule_of(const EventTypeTerms& terms) noexcept {
    return static_cast<const Rule&>(terms);
  }

  const ScoreConfig& score() const noexcept { return score_; }
  // Sorted by ascending min; names and mins are unique.
  const std::vector<Tier>& tiers() const noexcept { return tiers_; }
  // The tier with the largest min <= score; "" when the score is below all.
  std::string_view tier_for(std::int64_t score) const noexcept;
  // base + sum, clamped to [min, max].
  std::int64_t clamp(std::int64_t raw) const noexcept;

  // Rules in file order (excluding the built-in revoke).
  const std::deque<Rule>& rules() const noexcept { return rules_; }
  std::uint32_t version() const noexcept { return version_; }
  const std::string& source() const noexcept { return source_; }

 private:
  friend Result<std::shared_ptr<const RuleSet>> parse_rules(std::string_view, std::string_view,
                                                            std::uint32_t);

  ScoreConfig score_;
  std::vector<Tier> tiers_;
  std::deque<Rule> rules_;  // deque: element addresses stay stable while filling
  Rule revoke_;
  absl::flat_hash_map<std::string, const Rule*> by_name_;
  std::uint32_t version_ = 0;
  std::string source_;
};

// Parses rules from TOML text. `file_name` is used in errors; `version`
// is stamped on the set and on each of its rules.
//
// A refused file is a Status::invalid_at(place, reason) (core/status.h): its
// place() holds the file, and the 1-based line and column of the offending
// value (0 and 0 when the problem has no place, e.g. no [rules] at all);
// message() is the reason alone; to_string() is "FILE:LINE:COLUMN: REASON".
Result<std::shared_ptr<const RuleSet>> parse_rules(std::string_view toml_text,
                                                   std::string_view file_name,
                                                   std::uint32_t version);
// Reads and parses a file; a file that cannot be read is refused the same
// way, with line 0 ("cannot read: <strerror>").
Result<std::shared_ptr<const RuleSet>> load_rules_file(const std::string& path,
                                                       std::uint32_t version);

// "540d" -> milliseconds: a whole number and one of the units s, m, h, d, w
// ("0s" is 0). Anything else is an invalid_argument Status naming the text.
Result<std::int64_t> parse_duration_ms(std::string_view text);
// Milliseconds -> the largest exact unit ("540d", "90m", "1500ms" never occurs
// for parsed durations; falls back to seconds).
std::string format_duration(std::int64_t ms);
// A clamp bound in words: the number, or "none" for an unbounded side.
std::string format_bound(std::int64_t value);

}  // namespace tally::scorer
