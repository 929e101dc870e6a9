#include "client/prometheus_histogram.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace tally::client {
namespace {

// strtod on a bounded view; false unless the whole token is a number
// ("+Inf", "1e-05" and "NaN" included).
bool parse_double(std::string_view token, double& value) {
  const std::string text(token);
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

}  // namespace

HistogramBuckets parse_histogram_buckets(std::string_view exposition, std::string_view metric) {
  HistogramBuckets buckets;
  const std::string prefix = std::string(metric) + "_bucket{";
  std::size_t start = 0;
  while (start < exposition.size()) {
    std::size_t end = exposition.find('\n', start);
    if (end == std::string_view::npos) end = exposition.size();
    const std::string_view line = exposition.substr(start, end - start);
    start = end + 1;
    if (line.substr(0, prefix.size()) != prefix) continue;
    const std::size_t close = line.find('}', prefix.size());
    if (close == std::string_view::npos) continue;
    // The `le` label, wherever it sits among the labels.
    const std::string_view labels = line.substr(prefix.size() - 1, close - prefix.size() + 2);
    std::size_t le = labels.find("le=\"");
    while (le != std::string_view::npos && labels[le - 1] != '{' && labels[le - 1] != ',') {
      le = labels.find("le=\"", le + 1);
    }
    if (le == std::string_view::npos) continue;
    const std::size_t bound_begin = le + 4;
    const std::size_t bound_end = labels.find('"', bound_begin);
    if (bound_end == std::string_view::npos) continue;
    // "name{labels} value [timestamp]"
    std::string_view rest = line.substr(close + 1);
    const std::size_t value_begin = rest.find_first_not_of(' ');
    if (value_begin == std::string_view::npos) continue;
    rest = rest.substr(value_begin);
    const std::string_view value_text = rest.substr(0, rest.find(' '));
    double bound = 0, value = 0;
    if (!parse_double(labels.substr(bound_begin, bound_end - bound_begin), bound) ||
        !parse_double(value_text, value)) {
      continue;
    }
    buckets[bound] += value;
  }
  return buckets;
}

HistogramBuckets histogram_difference(const HistogramBuckets& after,
                                      const HistogramBuckets& before) {
  HistogramBuckets difference = after;
  for (auto& [bound, count] : difference) {
    const auto earlier = before.find(bound);
    if (earlier != before.end()) count -= earlier->second;
  }
  return difference;
}

double histogram_quantile(const HistogramBuckets& buckets, double q) {
  if (buckets.empty()) return NAN;
  const double total = buckets.rbegin()->second;
  if (!(total > 0)) return NAN;
  const double rank = q * total;
  double lower_bound = 0, lower_count = 0;
  for (const auto& [upper, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(upper)) return lower_bound;
      const double width = count - lower_count;
      return lower_bound + (upper - lower_bound) * (width > 0 ? (rank - lower_count) / width : 1);
    }
    lower_bound = upper;
    lower_count = count;
  }
  return lower_bound;
}

}  // namespace tally::client
