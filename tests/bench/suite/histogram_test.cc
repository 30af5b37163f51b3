// bench/suite/histogram.h: the log-linear histogram of docs/bench.md §4.
#include "bench/suite/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace strait::bench {
namespace {

double RelativeError(std::uint64_t got, std::uint64_t want) {
  return std::abs(static_cast<double>(got) - static_cast<double>(want)) / static_cast<double>(want);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 0; v < 128; ++v) h.Record(v);
  for (std::uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(Histogram::BucketOf(v), v);
    EXPECT_EQ(Histogram::BucketHigh(v), v);
  }
  EXPECT_EQ(h.Percentile(0.5), 63u);  // rank 64 of 0..127
  EXPECT_EQ(h.Percentile(1.0), 127u);
}

TEST(Histogram, BucketsTileTheRangeWithinOneSixtyFourth) {
  EXPECT_EQ(Histogram::kBucketCount, 2496u);
  EXPECT_EQ(Histogram::BucketLow(128), 128u);
  for (std::size_t i = 1; i < Histogram::kBucketCount; ++i) {
    ASSERT_EQ(Histogram::BucketLow(i), Histogram::BucketHigh(i - 1) + 1) << i;
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketLow(i)), i);
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketHigh(i)), i);
    const double width = static_cast<double>(Histogram::BucketHigh(i) - Histogram::BucketLow(i) + 1);
    if (i >= 128) {  // exact below
      ASSERT_LE(width / static_cast<double>(Histogram::BucketLow(i)), 1.0 / 64) << i;
    }
  }
  EXPECT_EQ(Histogram::BucketHigh(Histogram::kBucketCount - 1), Histogram::kOverflowFrom - 1);
}

TEST(Histogram, UniformPercentilesWithinOnePointSixPercent) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 1'000'000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1'000'000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.sum(), 500'000'500'000u);
  EXPECT_DOUBLE_EQ(h.Mean(), 500'000.5);
  for (const double q : {0.1, 0.5, 0.9, 0.99, 0.999}) {
    const auto want = static_cast<std::uint64_t>(q * 1'000'000);
    const std::uint64_t got = h.Percentile(q);
    EXPECT_GE(got, want) << q;  // the bucket's upper bound: never below the true value
    EXPECT_LE(RelativeError(got, want), 0.016) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), 1'000'000u);
}

TEST(Histogram, LogNormalPercentilesWithinOnePointSixPercentOfTheSortedSamples) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(12.0, 1.5);  // around 160 µs in ns, with a long tail
  std::vector<std::uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (const double q : {0.5, 0.9, 0.99, 0.999, 0.9999}) {
    const std::uint64_t want = samples[static_cast<std::size_t>(std::ceil(q * samples.size())) - 1];
    EXPECT_LE(RelativeError(h.Percentile(q), want), 0.016) << q;
  }
}

TEST(Histogram, PercentilesAreMonotoneAndP100IsMax) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::uint64_t> dist(0, std::uint64_t{1} << 40);
  Histogram h;
  for (int i = 0; i < 5000; ++i) h.Record(dist(rng));
  std::uint64_t last = 0;
  for (int i = 0; i <= 1000; ++i) {
    const std::uint64_t p = h.Percentile(i / 1000.0);
    EXPECT_GE(p, last) << i;
    EXPECT_GE(p, h.min());
    EXPECT_LE(p, h.max());
    last = p;
  }
  EXPECT_EQ(h.Percentile(1.0), h.max());
  EXPECT_EQ(h.Percentile(0.0), h.min());
  EXPECT_EQ(h.Percentile(2.0), h.max());     // clamped
  EXPECT_EQ(h.Percentile(-1.0), h.min());    // clamped
  EXPECT_EQ(h.Percentile(std::nan("")), h.min());
}

TEST(Histogram, OneValueIsEveryPercentile) {
  Histogram h;
  h.Record(123'456'789);
  for (const double q : {0.001, 0.5, 1.0}) EXPECT_EQ(h.Percentile(q), 123'456'789u);  // clipped to [min, max]
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::uint64_t> dist(0, std::uint64_t{1} << 45);  // some overflow too
  Histogram all;
  Histogram parts[3];
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t v = dist(rng) >> (i % 40);
    all.Record(v);
    parts[i % 3].Record(v);
  }
  Histogram merged;
  merged.Merge(Histogram());  // an empty one changes nothing
  for (const Histogram& p : parts) merged.Merge(p);
  EXPECT_EQ(merged, all);
  EXPECT_GT(all.overflow(), 0u);
}

TEST(Histogram, OverflowIsCountedNotDropped) {
  Histogram h;
  h.Record(10);
  h.Record(Histogram::kOverflowFrom - 1);  // the last value a bucket holds
  h.Record(Histogram::kOverflowFrom);
  h.Record(~std::uint64_t{0});
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.overflow(), 2u);
  EXPECT_EQ(h.max(), ~std::uint64_t{0});
  EXPECT_EQ(h.sum(), ~std::uint64_t{0});  // saturated
  EXPECT_EQ(h.Percentile(0.5), Histogram::kOverflowFrom - 1);
  EXPECT_EQ(h.Percentile(0.75), ~std::uint64_t{0});  // a rank among the overflowed values reports max
  const auto cdf = h.CdfPoints();
  ASSERT_EQ(cdf.size(), 3u);
  EXPECT_EQ(cdf.back().first, ~std::uint64_t{0});
  EXPECT_DOUBLE_EQ(cdf.back().second, 1.0);
}

TEST(Histogram, EmptyHasZeroesAndNoCdf) {
  const Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.Percentile(1.0), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_TRUE(h.CdfPoints().empty());
  EXPECT_TRUE(h.NonEmptyBuckets().empty());
}

TEST(Histogram, CdfPointsIncreaseAndEndAtMax) {
  Histogram h;
  for (std::uint64_t v : {5u, 5u, 200u, 90'000u, 1'000'000u}) h.Record(v);
  const auto cdf = h.CdfPoints();
  ASSERT_EQ(cdf.size(), 4u);
  EXPECT_EQ(cdf.front().first, 5u);
  EXPECT_DOUBLE_EQ(cdf.front().second, 0.4);
  for (std::size_t i = 1; i < cdf.size(); ++i) {
    EXPECT_GT(cdf[i].first, cdf[i - 1].first);
    EXPECT_GT(cdf[i].second, cdf[i - 1].second);
  }
  EXPECT_EQ(cdf.back().first, 1'000'000u);
  EXPECT_DOUBLE_EQ(cdf.back().second, 1.0);
}

TEST(Histogram, SparsePartsRoundTrip) {
  Histogram h;
  for (std::uint64_t v : {0u, 3u, 3u, 129u, 70'000u, 5'000'000u}) h.Record(v);
  h.Record(Histogram::kOverflowFrom + 5);
  std::string why;
  const auto back =
      Histogram::FromParts(h.NonEmptyBuckets(), h.count(), h.min(), h.max(), h.sum(), h.overflow(), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, h);
  const auto empty = Histogram::FromParts({}, 0, 0, 0, 0, 0, &why);
  ASSERT_TRUE(empty) << why;
  EXPECT_EQ(*empty, Histogram());
}

TEST(Histogram, FromPartsRefusesInconsistentParts) {
  using B = std::vector<std::pair<std::size_t, std::uint64_t>>;
  struct Case {
    const char* name;
    B buckets;
    std::uint64_t count, min, max, sum, overflow;
    const char* reason;
  };
  const Case cases[] = {
      {"index out of range", {{2496, 1}}, 1, 0, 0, 0, 0, "bucket index 2496 is not below 2496"},
      {"not increasing", {{5, 1}, {5, 1}}, 2, 5, 5, 10, 0, "strictly increasing"},
      {"zero count", {{5, 0}}, 0, 0, 0, 0, 0, "count of 0"},
      {"count mismatch", {{5, 2}}, 3, 5, 5, 15, 0, "is not the bucket counts"},
      {"empty with min", {}, 0, 1, 0, 0, 0, "empty histogram"},
      {"min above max", {{5, 1}, {6, 1}}, 2, 6, 5, 11, 0, "above max"},
      {"min not in first", {{5, 1}, {6, 1}}, 2, 4, 6, 10, 0, "not in the first"},
      {"max not in last", {{5, 1}, {6, 1}}, 2, 5, 7, 12, 0, "not in the last"},
      {"overflow without big max", {{5, 1}}, 2, 5, 6, 11, 1, "overflow must be counted"},
      {"big max without overflow", {{5, 1}}, 1, 5, std::uint64_t{1} << 44, 5, 0, "overflow must be counted"},
      {"sum too small", {{5, 1}, {6, 1}}, 2, 5, 6, 10, 0, "sum 10 is impossible"},
      {"sum too large", {{5, 2}}, 2, 5, 5, 11, 0, "sum 11 is impossible"},
      {"counts overflow", {{5, ~std::uint64_t{0}}, {6, 1}}, 0, 5, 6, 11, 0, "beyond 2^64"},
  };
  for (const Case& c : cases) {
    std::string why;
    EXPECT_FALSE(Histogram::FromParts(c.buckets, c.count, c.min, c.max, c.sum, c.overflow, &why)) << c.name;
    EXPECT_NE(why.find(c.reason), std::string::npos) << c.name << ": " << why;
  }
}

}  // namespace
}  // namespace strait::bench
