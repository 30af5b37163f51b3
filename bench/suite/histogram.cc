#include "bench/suite/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace strait::bench {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) { return a > kMaxU64 - b ? kMaxU64 : a + b; }

std::uint64_t SaturatingMul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kMaxU64 / a) return kMaxU64;
  return a * b;
}

}  // namespace

std::size_t Histogram::BucketOf(std::uint64_t value) {
  if (value < kExactLimit) return static_cast<std::size_t>(value);
  const int k = std::bit_width(value) - 1;  // value in [2^k, 2^(k+1)), 7 <= k < 44
  const std::uint64_t sub = (value >> (k - kSubBucketBits)) & (kSubBuckets - 1);
  return static_cast<std::size_t>(kExactLimit + static_cast<std::uint64_t>(k - kExactBits) * kSubBuckets + sub);
}

std::uint64_t Histogram::BucketLow(std::size_t index) {
  if (index < kExactLimit) return index;
  const std::size_t k = kExactBits + (index - kExactLimit) / kSubBuckets;
  const std::uint64_t sub = (index - kExactLimit) % kSubBuckets;
  return (kSubBuckets + sub) << (k - kSubBucketBits);
}

std::uint64_t Histogram::BucketHigh(std::size_t index) {
  if (index < kExactLimit) return index;
  const std::size_t k = kExactBits + (index - kExactLimit) / kSubBuckets;
  return BucketLow(index) + (std::uint64_t{1} << (k - kSubBucketBits)) - 1;
}

void Histogram::Record(std::uint64_t value) {
  if (value >= kOverflowFrom) {
    ++overflow_;
  } else {
    ++counts_[BucketOf(value)];
  }
  if (count_ == 0 || value < min_) min_ = value;
  if (count_ == 0 || value > max_) max_ = value;
  ++count_;
  sum_ = SaturatingAdd(sum_, value);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  overflow_ += other.overflow_;
  sum_ = SaturatingAdd(sum_, other.sum_);
}

double Histogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

std::uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min_;  // q <= 0 or NaN
  q = std::min(q, 1.0);
  // ceil(q * count), at least 1 and at most count. The product is rounded once; ceil of a value a hair above an
  // integer (0.3 * 10 = 3.0000000000000004) would skip a rank, so a relative epsilon absorbs that rounding.
  const double exact = q * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(BucketHigh(i), min_, max_);
  }
  return max_;  // the rank lies among the overflowed values
}

std::vector<std::pair<std::uint64_t, double>> Histogram::CdfPoints() const {
  std::vector<std::pair<std::uint64_t, double>> points;
  if (count_ == 0) return points;
  const double total = static_cast<double>(count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    points.emplace_back(std::clamp(BucketHigh(i), min_, max_), static_cast<double>(seen) / total);
  }
  if (overflow_ > 0) points.emplace_back(max_, 1.0);
  return points;
}

std::vector<std::pair<std::size_t, std::uint64_t>> Histogram::NonEmptyBuckets() const {
  std::vector<std::pair<std::size_t, std::uint64_t>> out;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] != 0) out.emplace_back(i, counts_[i]);
  }
  return out;
}

std::optional<Histogram> Histogram::FromParts(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                                              std::uint64_t count, std::uint64_t min, std::uint64_t max,
                                              std::uint64_t sum, std::uint64_t overflow, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Histogram> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  Histogram h;
  std::uint64_t in_buckets = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const auto [index, n] = buckets[i];
    if (index >= kBucketCount) return fail(fmt::format("bucket index {} is not below {}", index, kBucketCount));
    if (i > 0 && index <= buckets[i - 1].first) return fail("bucket indexes must be strictly increasing");
    if (n == 0) return fail(fmt::format("bucket {} has a count of 0 (only non-empty buckets are listed)", index));
    if (n > kMaxU64 - in_buckets) return fail("bucket counts add up beyond 2^64");
    in_buckets += n;
    h.counts_[index] = n;
  }
  if (overflow > kMaxU64 - in_buckets || in_buckets + overflow != count) {
    return fail(fmt::format("count {} is not the bucket counts ({}) plus overflow ({})", count, in_buckets,
                            overflow));
  }
  if (count == 0) {
    if (min != 0 || max != 0 || sum != 0) return fail("an empty histogram has min, max and sum 0");
    return h;
  }
  if (min > max) return fail(fmt::format("min {} is above max {}", min, max));
  if ((overflow > 0) != (max >= kOverflowFrom)) return fail("overflow must be counted exactly when max >= 2^44");
  if (buckets.empty()) {
    if (min < kOverflowFrom) return fail("min is below 2^44 but no bucket holds it");
  } else {
    if (BucketOf(std::min(min, kOverflowFrom - 1)) != buckets.front().first || min >= kOverflowFrom) {
      return fail(fmt::format("min {} is not in the first non-empty bucket {}", min, buckets.front().first));
    }
    if (overflow == 0 && BucketOf(max) != buckets.back().first) {
      return fail(fmt::format("max {} is not in the last non-empty bucket {}", max, buckets.back().first));
    }
  }
  // count values in [min, max], one of them min and one max, sum to between (count-1)*min + max and
  // min + (count-1)*max (one value: min == max == sum). Both bounds saturate as the sum does.
  const std::uint64_t lowest = SaturatingAdd(max, SaturatingMul(count - 1, min));
  const std::uint64_t highest = count == 1 ? min : SaturatingAdd(min, SaturatingMul(count - 1, max));
  if (sum < lowest || sum > highest) {
    return fail(fmt::format("sum {} is impossible for {} values in [{}, {}]", sum, count, min, max));
  }
  h.count_ = count;
  h.overflow_ = overflow;
  h.min_ = min;
  h.max_ = max;
  h.sum_ = sum;
  return h;
}

}  // namespace strait::bench
