// The token buckets behind 429 (control-plane/handlers/rate_limiter.h): the rate and burst hold per key, and the
// table stays within max_entries however many keys (API key ids, source addresses) a hostile client rotates through.
#include "control-plane/handlers/rate_limiter.h"

#include <string>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

TEST(RateLimiterTest, BurstThenRatePerKey) {
  RateLimiter limiter(/*rate=*/2, /*burst=*/3, /*max_entries=*/100);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.Allow("k", 0.0);
  EXPECT_EQ(allowed, 3);
  EXPECT_FALSE(limiter.Allow("k", 0.4));  // 0.8 tokens back: not yet one
  EXPECT_TRUE(limiter.Allow("k", 0.5));   // 1.0
  EXPECT_TRUE(limiter.Allow("other", 0.5));  // another key has its own bucket
}

TEST(RateLimiterTest, TheTableIsBoundedAndDropsTheLeastRecentlyUsed) {
  RateLimiter limiter(1, 1, /*max_entries=*/3);
  for (int i = 0; i < 1000; ++i) limiter.Allow("addr-" + std::to_string(i), 0.0);
  EXPECT_EQ(limiter.size(), 3u);
  // The three most recent keys are still there, with their buckets empty.
  EXPECT_FALSE(limiter.Allow("addr-999", 0.0));
  EXPECT_FALSE(limiter.Allow("addr-997", 0.0));
  // An evicted key starts again with only its own burst.
  EXPECT_TRUE(limiter.Allow("addr-0", 0.0));
  EXPECT_FALSE(limiter.Allow("addr-0", 0.0));
  EXPECT_EQ(limiter.size(), 3u);
}

}  // namespace
}  // namespace strait::control
