// One histogram read from Prometheus's text exposition format, and its
// quantiles: how tally-bench turns tallyd's tally_event_latency_seconds into
// p50 / p99 / p99.9 over a run (the difference of two scrapes).
#pragma once

#include <map>
#include <string_view>

namespace tally::client {

// Upper bound (the `le` label, +Inf included) -> cumulative count, summed
// over every label set of the metric (e.g. one per worker).
using HistogramBuckets = std::map<double, double>;

// The `<metric>_bucket{...,le="..."} value` lines of `exposition`. Empty if
// the metric is absent.
HistogramBuckets parse_histogram_buckets(std::string_view exposition, std::string_view metric);

// after - before, bucket by bucket: the observations made between two scrapes.
HistogramBuckets histogram_difference(const HistogramBuckets& after,
                                      const HistogramBuckets& before);

// The q-quantile (0 <= q <= 1), interpolated linearly inside its bucket as
// Prometheus's histogram_quantile() does; a quantile in the +Inf bucket is
// the largest finite bound. NaN if there are no observations.
double histogram_quantile(const HistogramBuckets& buckets, double q);

}  // namespace tally::client
