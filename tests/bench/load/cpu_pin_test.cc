#include "bench/suite/load/cpu_pin.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace strait::bench {
namespace {

TEST(CpuPin, SplitGivesTheRelayTheLastCpu) {
  const CpuSplit two = SplitCpus({0, 1});
  EXPECT_TRUE(two.pinned);
  EXPECT_EQ(two.relay_cpu, 1u);
  EXPECT_EQ(two.load_cpus, (std::vector<std::uint32_t>{0}));
  const CpuSplit four = SplitCpus({2, 3, 5, 7});
  EXPECT_EQ(four.relay_cpu, 7u);
  EXPECT_EQ(four.load_cpus, (std::vector<std::uint32_t>{2, 3, 5}));
}

TEST(CpuPin, OneCpuIsShared) {
  const CpuSplit one = SplitCpus({4});
  EXPECT_FALSE(one.pinned);
  EXPECT_EQ(one.load_cpus, (std::vector<std::uint32_t>{4}));
}

TEST(CpuPin, PinsThisProcessAndRefusesNothing) {
  const std::vector<std::uint32_t> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  auto n = PinProcess(getpid(), {allowed.front()});
  ASSERT_TRUE(n) << n.error();
  EXPECT_GE(*n, 1u);
  EXPECT_EQ(AllowedCpus(), (std::vector<std::uint32_t>{allowed.front()}));
  ASSERT_TRUE(PinThisThread(allowed));
  EXPECT_EQ(AllowedCpus(), allowed);
  EXPECT_FALSE(PinThisThread({}));
  EXPECT_FALSE(PinProcess(getpid(), {}));
}

}  // namespace
}  // namespace strait::bench
