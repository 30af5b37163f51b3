// RefusalLog on a manual clock: at most N lines a second, the rest summed up with the next second's first.
#include "tunnel/link/refusal_log.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace strait::link {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(RefusalLog, AtMostNASecondAndTheRestSummedUpWithTheNextSecondsFirst) {
  RefusalLog r(3);
  const std::int64_t t0 = 5'000 * kMs;
  int logged = 0;
  for (int i = 0; i < 100; ++i) {
    const RefusalLog::Verdict v = r.Admit(t0 + i * kMs);  // 100 refusals in 100 ms
    EXPECT_EQ(v.not_logged, 0u);
    logged += v.log ? 1 : 0;
  }
  EXPECT_EQ(logged, 3);
  // The next second's first refusal is logged, after a summary of the 97 that were not.
  RefusalLog::Verdict v = r.Admit(t0 + 1000 * kMs);
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.not_logged, 97u);
  // A quiet second then: nothing to sum up.
  v = r.Admit(t0 + 3000 * kMs);
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.not_logged, 0u);
}

TEST(RefusalLog, TheFirstRefusalIsLoggedWhateverTheClockSays) {
  for (const std::int64_t t : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1} << 62}) {
    RefusalLog r;
    EXPECT_TRUE(r.Admit(t).log) << t;
  }
}

}  // namespace
}  // namespace strait::link
