#include "client/prometheus_histogram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tally::client {
namespace {

// Two label sets (as per-worker children would be), a timestamp, and
// look-alike metrics that must not be mixed in.
constexpr const char* kExposition = R"(# HELP tally_event_latency_seconds Receive to applied.
# TYPE tally_event_latency_seconds histogram
tally_event_latency_seconds_bucket{le="0.001"} 50
tally_event_latency_seconds_bucket{le="0.01"} 90
tally_event_latency_seconds_bucket{le="+Inf"} 100
tally_event_latency_seconds_sum 0.5
tally_event_latency_seconds_count 100
tally_event_latency_seconds_bucket{worker="1",le="0.001"} 50 1700000000000
tally_event_latency_seconds_bucket{worker="1",le="0.01"} 90 1700000000000
tally_event_latency_seconds_bucket{worker="1",le="+Inf"} 100 1700000000000
tally_event_latency_seconds_other_bucket{le="0.001"} 7
other_latency_seconds_bucket{le="0.001"} 9
tally_event_latency_seconds_bucket{handle="0.5",le="1e-05"} 0
)";

TEST(PrometheusHistogramTest, SumsEveryLabelSetOfTheMetric) {
  const HistogramBuckets buckets =
      parse_histogram_buckets(kExposition, "tally_event_latency_seconds");
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets.at(1e-05), 0);
  EXPECT_EQ(buckets.at(0.001), 100);
  EXPECT_EQ(buckets.at(0.01), 180);
  EXPECT_EQ(buckets.at(INFINITY), 200);
  EXPECT_TRUE(parse_histogram_buckets(kExposition, "absent").empty());
}

TEST(PrometheusHistogramTest, QuantilesInterpolateWithinTheBucket) {
  const HistogramBuckets buckets = {{0.001, 50}, {0.01, 90}, {INFINITY, 100}};
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.5), 0.001);
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.25), 0.0005);
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.7), 0.001 + 0.009 * 0.5);
  EXPECT_DOUBLE_EQ(histogram_quantile(buckets, 0.99), 0.01);  // in +Inf: the last finite bound
  EXPECT_TRUE(std::isnan(histogram_quantile({}, 0.5)));
  EXPECT_TRUE(std::isnan(histogram_quantile({{0.001, 0}, {INFINITY, 0}}, 0.5)));
}

TEST(PrometheusHistogramTest, TheDifferenceIsWhatARunObserved) {
  const HistogramBuckets before = {{0.001, 10}, {INFINITY, 20}};
  const HistogramBuckets after = {{0.001, 60}, {INFINITY, 120}};
  const HistogramBuckets run = histogram_difference(after, before);
  EXPECT_EQ(run.at(0.001), 50);
  EXPECT_EQ(run.at(INFINITY), 100);
  EXPECT_EQ(histogram_difference(after, {}), after);
}

}  // namespace
}  // namespace tally::client
