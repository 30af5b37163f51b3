// AddressPool (docs/ip-tunnel.md §3): the same address back within the grace period, the least recently released
// address reused last, and every bound (pool size, max_leases) answered with nullopt, never a crash.
#include "tunnel/connector/address_pool.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace strait::connector {
namespace {

AddressPool::Key K(uint8_t n) {
  AddressPool::Key k{};
  k[0] = n;
  k[31] = 0x5a;
  return k;
}

AddressPool Make(int prefix, uint64_t grace = 300, size_t max_leases = 65'536) {
  AddressPoolOptions o;
  o.network = 0x64600000;
  o.prefix_length = prefix;
  o.grace_s = grace;
  o.max_leases = max_leases;
  auto p = AddressPool::Create(o);
  EXPECT_TRUE(p.ok());
  return std::move(p).value();
}

TEST(AddressPool, GatewayIsTheFirstAddressAndDevicesGetTheRest) {
  AddressPool p = Make(29);  // .0 network, .1 gateway, .2-.6 devices, .7 broadcast
  EXPECT_EQ(p.gateway(), 0x64600001u);
  std::set<uint32_t> got;
  for (uint8_t i = 0; i < 5; ++i) {
    auto a = p.Acquire(K(i), 0);
    ASSERT_TRUE(a);
    EXPECT_GE(*a, 0x64600002u);
    EXPECT_LE(*a, 0x64600006u);
    got.insert(*a);
  }
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(p.free(), 0u);
  EXPECT_EQ(p.Acquire(K(9), 0), std::nullopt);
  EXPECT_EQ(p.stats().refused_full, 1u);
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, AReturningDeviceGetsItsAddressBackWithinTheGrace) {
  AddressPool p = Make(24, 300);
  const uint32_t a = *p.Acquire(K(1), 100);
  p.Release(K(1), 200);
  EXPECT_EQ(p.live_leases(), 0u);
  EXPECT_EQ(p.leases(), 1u);
  EXPECT_EQ(*p.Holder(a), K(1));
  // Other devices come and go meanwhile: none of them gets the address in grace.
  for (uint8_t i = 2; i < 50; ++i) EXPECT_NE(*p.Acquire(K(i), 300), a);
  EXPECT_EQ(p.Acquire(K(1), 499), a);  // 299 s after the release
  EXPECT_EQ(p.stats().reused_lease, 1u);
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, AfterTheGraceTheAddressIsFreeAndReusedLast) {
  AddressPool p = Make(29, 10);
  const uint32_t a1 = *p.Acquire(K(1), 0);
  const uint32_t a2 = *p.Acquire(K(2), 0);
  p.Release(K(1), 5);
  p.Release(K(2), 6);
  p.Expire(16);
  EXPECT_EQ(p.Holder(a1), nullptr);
  EXPECT_EQ(p.Holder(a2), nullptr);
  EXPECT_EQ(p.stats().expired, 2u);
  // Three never-used addresses go first, then a1 (released first), then a2.
  std::vector<uint32_t> order;
  for (uint8_t i = 10; i < 15; ++i) order.push_back(*p.Acquire(K(i), 20));
  EXPECT_EQ(order[3], a1);
  EXPECT_EQ(order[4], a2);
  EXPECT_NE(p.AddressOf(K(1)), a1);  // K(1) lost its lease
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, TwoSessionsOfOneKeyShareTheLeaseUntilBothEnd) {
  AddressPool p = Make(24, 0);
  const uint32_t a = *p.Acquire(K(1), 0);
  EXPECT_EQ(p.Acquire(K(1), 0), a);
  p.Release(K(1), 1);
  EXPECT_EQ(p.Holder(a) != nullptr, true) << "one session still holds it";
  p.Release(K(1), 2);  // grace 0: gone at once
  EXPECT_EQ(p.Holder(a), nullptr);
  p.Release(K(1), 3);  // a release too many changes nothing
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, ReacquiringInGraceCancelsTheExpiry) {
  AddressPool p = Make(24, 10);
  const uint32_t a = *p.Acquire(K(1), 0);
  p.Release(K(1), 1);
  EXPECT_EQ(p.Acquire(K(1), 5), a);
  p.Expire(100);  // the stale grace entry from t=1 must not take the live lease away
  EXPECT_EQ(p.AddressOf(K(1)), a);
  p.Release(K(1), 100);
  p.Expire(109);
  EXPECT_EQ(p.AddressOf(K(1)), a);
  p.Expire(110);
  EXPECT_EQ(p.AddressOf(K(1)), std::nullopt);
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, MaxLeasesBoundsLiveAndGraceTogether) {
  AddressPool p = Make(16, 300, 3);
  for (uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(p.Acquire(K(i), 0));
  p.Release(K(0), 1);  // in grace: still counts
  EXPECT_EQ(p.Acquire(K(7), 2), std::nullopt);
  EXPECT_EQ(p.free(), 0u);
  EXPECT_TRUE(p.Acquire(K(7), 302));  // K(0)'s grace ended
  EXPECT_TRUE(p.CheckInvariants());
}

TEST(AddressPool, RefusesBadPools) {
  AddressPoolOptions o;
  EXPECT_TRUE(ParsePoolCidr("10.99.0.0/16", &o).ok());
  EXPECT_EQ(o.network, 0x0a630000u);
  EXPECT_EQ(o.prefix_length, 16);
  EXPECT_FALSE(ParsePoolCidr("10.99.1.0/16", &o).ok());  // host bits
  EXPECT_FALSE(ParsePoolCidr("fd00::/64", &o).ok());
  EXPECT_FALSE(ParsePoolCidr("banana", &o).ok());
  o.prefix_length = 31;
  EXPECT_FALSE(AddressPool::Create(o).ok());
  o.prefix_length = 7;
  o.network = 0;
  EXPECT_FALSE(AddressPool::Create(o).ok());
}

// Random operations against a model: a key's address never changes while it holds a lease, no two keys share one.
TEST(AddressPool, RandomOperationsKeepEveryTableConsistent) {
  AddressPool p = Make(26, 7, 40);
  std::mt19937 rng(7);
  uint64_t now = 0;
  for (int step = 0; step < 20'000; ++step) {
    const uint8_t k = static_cast<uint8_t>(rng() % 80);
    now += rng() % 3;
    switch (rng() % 3) {
      case 0: {
        p.Expire(now);
        const std::optional<uint32_t> before = p.AddressOf(K(k));
        const std::optional<uint32_t> a = p.Acquire(K(k), now);
        if (before) {
          EXPECT_EQ(a, before) << "a key that holds a lease gets that address";
        }
        break;
      }
      case 1: p.Release(K(k), now); break;
      default: p.Expire(now); break;
    }
    ASSERT_TRUE(p.CheckInvariants()) << "step " << step;
  }
  std::set<uint32_t> seen;
  for (uint8_t k = 0; k < 80; ++k) {
    if (auto a = p.AddressOf(K(k))) {
      EXPECT_TRUE(seen.insert(*a).second);
    }
  }
}

}  // namespace
}  // namespace strait::connector
