// A log-linear latency histogram (docs/bench.md §4), HDR-style: fixed size, constant-time Record, exact count, min,
// max and sum beside the buckets, mergeable across workers and repetitions. Sans-I/O.
//
// Buckets (values are non-negative integers in a unit the caller picks, nanoseconds for latency):
//
//   index 0 .. 127        value v < 2^7, one bucket each (exact)
//   index 128 + 64*(k-7) + s, k = 7 .. 43, s = 0 .. 63
//                         v in [2^k, 2^(k+1)) with (v >> (k-6)) & 63 == s: 64 equal sub-buckets of width 2^(k-6),
//                         so a bucket's bounds are within 1/64 (1.6 %) of any value in it
//   overflow              v >= 2^44 (about 4.9 hours in ns): counted apart, never dropped
//
// Overflowed values still count in count, min, max and sum; only the buckets leave them out. Percentiles are
// nearest-rank: the bucket holding the ceil(q * count)-th smallest value, reported as that bucket's largest value
// clipped to [min, max] (a rank that falls among the overflowed values reports max). So p100 == max, p(tiny) == the
// first bucket's bound clipped to min, and q -> Percentile(q) is monotone by construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strait::bench {

class Histogram {
 public:
  static constexpr int kExactBits = 7;                                    // values below 2^7 are exact
  static constexpr int kSubBucketBits = 6;                                // 64 sub-buckets per power of two
  static constexpr int kMaxExponent = 44;                                 // values from 2^44 on overflow
  static constexpr std::uint64_t kExactLimit = std::uint64_t{1} << kExactBits;
  static constexpr std::uint64_t kOverflowFrom = std::uint64_t{1} << kMaxExponent;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;
  static constexpr std::size_t kBucketCount = kExactLimit + (kMaxExponent - kExactBits) * kSubBuckets;  // 2,496
  static_assert(kBucketCount == 128 + 37 * 64);

  // The bucket a value below kOverflowFrom falls in.
  static std::size_t BucketOf(std::uint64_t value);
  // The smallest and the largest value of bucket `index` (< kBucketCount).
  static std::uint64_t BucketLow(std::size_t index);
  static std::uint64_t BucketHigh(std::size_t index);

  // O(1), no allocation. Not thread-safe: one histogram per thread or worker, merged afterwards.
  void Record(std::uint64_t value);
  // Adds `other`'s counts, overflow, count and sum; min and max combine. Recording every value into one histogram
  // gives an equal histogram.
  void Merge(const Histogram& other);

  std::uint64_t count() const { return count_; }    // every recorded value, overflowed ones included
  std::uint64_t overflow() const { return overflow_; }
  std::uint64_t min() const { return min_; }        // 0 when empty
  std::uint64_t max() const { return max_; }        // 0 when empty
  std::uint64_t sum() const { return sum_; }        // saturates at 2^64 - 1
  bool empty() const { return count_ == 0; }
  double Mean() const;                              // 0 when empty

  // The nearest-rank q-quantile (see the header comment). q is clamped to [0, 1]; q = 0 (or NaN) gives min.
  // An empty histogram has no quantiles: Percentile returns 0 for every q (callers that care check empty()).
  std::uint64_t Percentile(double q) const;

  // Points of the cumulative distribution for plotting: for each non-empty bucket in order, (its largest value
  // clipped to [min, max], the fraction of all values at or below it), then (max, 1.0) if any value overflowed.
  // Increasing in both coordinates; the last point is (max, 1.0). Empty for an empty histogram.
  std::vector<std::pair<std::uint64_t, double>> CdfPoints() const;

  // The sparse serialized form (docs/bench.md §5): (bucket index, count) of the non-empty buckets, in index order.
  std::vector<std::pair<std::size_t, std::uint64_t>> NonEmptyBuckets() const;
  // Rebuilds a histogram from its serialized parts; nullopt and a reason in `why` unless they are consistent:
  // indexes strictly increasing and below kBucketCount, counts at least 1, bucket counts + overflow == count,
  // min in the first non-empty bucket and max in the last (or both >= 2^44 where only overflow holds them),
  // overflow > 0 exactly when max >= 2^44, and sum possible for count values in [min, max]. Empty: all zero.
  static std::optional<Histogram> FromParts(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                                            std::uint64_t count, std::uint64_t min, std::uint64_t max,
                                            std::uint64_t sum, std::uint64_t overflow, std::string* why);

  bool operator==(const Histogram&) const = default;

 private:
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(kBucketCount, 0);
  std::uint64_t count_ = 0;
  std::uint64_t overflow_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

}  // namespace strait::bench
