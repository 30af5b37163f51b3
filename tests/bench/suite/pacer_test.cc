// bench/suite/pacer.h: the open-loop schedule, latency from the intended time, the outstanding bound.
#include "bench/suite/pacer.h"

#include <gtest/gtest.h>

namespace strait::bench {
namespace {

TEST(Pacer, DueTimesFollowTheRateWhateverHappened) {
  Pacer p(1'000, 1000.0, 100);  // 1,000/s: one each ms from t = 1 µs
  std::uint64_t intended = 0;
  EXPECT_EQ(p.next_due_ns(), 1'000u);
  ASSERT_TRUE(p.Take(&intended));
  EXPECT_EQ(intended, 1'000u);
  EXPECT_EQ(p.next_due_ns(), 1'001'000u);
  // The sender stalls 10 ms: the next requests keep their own due times, and each latency counts from them.
  const std::uint64_t now = 11'001'000;
  EXPECT_EQ(p.late(now), 11u);
  std::uint64_t first_late = 0;
  ASSERT_TRUE(p.Take(&first_late));
  EXPECT_EQ(first_late, 1'001'000u);
  EXPECT_EQ(p.Completed(first_late, now + 50'000), 10'050'000u) << "the stall is in the latency";
  EXPECT_EQ(p.late(now), 10u);
}

TEST(Pacer, BeyondMaxOutstandingRequestsAreDroppedNotQueued) {
  Pacer p(0, 1e6, 3);
  std::uint64_t t[5];
  EXPECT_TRUE(p.Take(&t[0]));
  EXPECT_TRUE(p.Take(&t[1]));
  EXPECT_TRUE(p.Take(&t[2]));
  EXPECT_FALSE(p.Take(&t[3]));
  EXPECT_EQ(p.outstanding(), 3u);
  EXPECT_EQ(p.dropped(), 1u);
  p.Completed(t[0], 5'000);
  EXPECT_TRUE(p.Take(&t[4]));
  EXPECT_EQ(t[4], 4'000u) << "slot 3 was spent by the drop";
  EXPECT_EQ(p.sent(), 4u);
  EXPECT_EQ(p.Completed(t[4], 1'000), 0u) << "a clock before the intended time never gives a negative latency";
}

}  // namespace
}  // namespace strait::bench
