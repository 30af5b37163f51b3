// LoginBudget alone: budgets per port, the cap per source, oldest-first eviction.
#include "tunnel/link/login_budget.h"

#include <gtest/gtest.h>

namespace strait::link {
namespace {

constexpr std::uint64_t kAttacker = 0xffff'ffff'7f00'0002ull;  // 127.0.0.2 as runtime::SourceKey makes it
constexpr std::uint64_t kClient = 0xffff'ffff'7f00'0001ull;

TEST(LoginBudget, EachPortHasItsOwnBudget) {
  LoginBudget b(/*per_port=*/4, /*per_source=*/100);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_FALSE(b.Admit(LoginPort::kDevice, kAttacker, i).has_value());
  // The device port is full; the connector port is not touched by it.
  EXPECT_FALSE(b.Admit(LoginPort::kConnector, kClient, 100).has_value());
  EXPECT_EQ(b.in_flight(LoginPort::kDevice), 4u);
  EXPECT_EQ(b.in_flight(LoginPort::kConnector), 1u);
}

TEST(LoginBudget, AFullPortEvictsItsOldestLogin) {
  LoginBudget b(3, 100);
  for (std::uint64_t i = 1; i <= 3; ++i) (void)b.Admit(LoginPort::kDevice, kAttacker, i);
  b.Done(2);  // finished: no longer counts, and is not evicted later
  EXPECT_FALSE(b.Admit(LoginPort::kDevice, kAttacker, 4).has_value());
  EXPECT_EQ(b.Admit(LoginPort::kDevice, kClient, 5), std::optional<std::uint64_t>(1));
  EXPECT_EQ(b.Admit(LoginPort::kDevice, kClient, 6), std::optional<std::uint64_t>(3));
  EXPECT_EQ(b.in_flight(LoginPort::kDevice), 3u);
  b.Done(1);  // the evicted login's own end is a no-op
  EXPECT_EQ(b.in_flight(LoginPort::kDevice), 3u);
  EXPECT_EQ(b.Admit(LoginPort::kDevice, kClient, 7), std::optional<std::uint64_t>(4));
}

TEST(LoginBudget, OneSourceHoldsAtMostItsCapPerPort) {
  LoginBudget b(100, 2);
  EXPECT_FALSE(b.SourceFull(LoginPort::kDevice, kAttacker));
  (void)b.Admit(LoginPort::kDevice, kAttacker, 1);
  (void)b.Admit(LoginPort::kDevice, kAttacker, 2);
  EXPECT_TRUE(b.SourceFull(LoginPort::kDevice, kAttacker));
  EXPECT_FALSE(b.SourceFull(LoginPort::kConnector, kAttacker));  // counted per port
  EXPECT_FALSE(b.SourceFull(LoginPort::kDevice, kClient));
  b.Done(1);
  EXPECT_FALSE(b.SourceFull(LoginPort::kDevice, kAttacker));
}

TEST(LoginBudget, EvictionReturnsTheSourceItsSlot) {
  LoginBudget b(2, 1);
  (void)b.Admit(LoginPort::kDevice, kAttacker, 1);
  (void)b.Admit(LoginPort::kDevice, kClient, 2);
  EXPECT_TRUE(b.SourceFull(LoginPort::kDevice, kAttacker));
  EXPECT_EQ(b.Admit(LoginPort::kDevice, 42, 3), std::optional<std::uint64_t>(1));
  EXPECT_FALSE(b.SourceFull(LoginPort::kDevice, kAttacker));
  b.Done(2);
  b.Done(3);
  EXPECT_EQ(b.in_flight(), 0u);
}

}  // namespace
}  // namespace strait::link
