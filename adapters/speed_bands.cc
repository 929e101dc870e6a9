#include "adapters/speed_bands.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace tally::adapters {
namespace {

std::optional<double> number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

bool SpeedBands::applies_to(const RecordFields& fields) const {
  if (code_field < 0) return true;
  const std::string code = lower_trimmed(fields.value(code_field));
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

SpeedBands::Verdict SpeedBands::classify(const RecordFields& fields,
                                         const FieldNames& names) const {
  Verdict verdict;
  const auto measured = number(fields.value(measured_field));
  const auto limit = number(fields.value(limit_field));
  if (!measured || !limit || (by_percent && *limit <= 0)) {
    verdict.issue = RecordIssue::kBadSpeed;
    verdict.detail = fmt::format("{} \"{}\" and {} \"{}\" are not speeds",
                                 names.name(measured_field), fields.value(measured_field),
                                 names.name(limit_field), fields.value(limit_field));
    return verdict;
  }
  const double excess = by_percent ? (*measured - *limit) * 100 / *limit : *measured - *limit;
  for (const SpeedBand& band : bands) {
    if (band.over <= excess) verdict.band = &band;
  }
  if (verdict.band == nullptr) {
    verdict.issue = RecordIssue::kBelowSpeedBands;
    verdict.detail = fmt::format("{:g} over the limit", excess);
  }
  return verdict;
}

}  // namespace tally::adapters
