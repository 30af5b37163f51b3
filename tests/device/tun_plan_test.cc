#include "tunnel/device/tun_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace strait::device {
namespace {

using tunnel::Ipv4Prefix;

constexpr std::uint32_t kA = 0x64600002;      // 100.96.0.2
constexpr std::uint32_t kB = 0x64600003;      // 100.96.0.3
constexpr std::uint32_t kRelay = 0x0A140005;  // 10.20.0.5
const Ipv4Prefix kCorp{0x0A140000, 16};       // 10.20.0.0/16
const Ipv4Prefix kLab{0x0A1E0000, 16};        // 10.30.0.0/16
const Ipv4Prefix kTen{0x0A000000, 8};         // 10.0.0.0/8

tunnel::TunnelConfig Config(std::uint32_t address, std::uint16_t mtu, std::vector<Ipv4Prefix> routes) {
  tunnel::TunnelConfig c;
  c.address = address;
  c.gateway = 0x64600001;
  c.mtu = mtu;
  c.routes = std::move(routes);
  return c;
}

TEST(TunPlan, TheFirstConfigSetsEverything) {
  const TunPlan p = PlanTunChange({}, Config(kA, 1420, {kCorp, kLab}), {});
  EXPECT_EQ(p.remove_address, 0u);
  EXPECT_EQ(p.add_address, kA);
  EXPECT_EQ(p.set_mtu, 1420);
  EXPECT_TRUE(p.set_up);
  EXPECT_EQ(p.add_routes, (std::vector<Ipv4Prefix>{kCorp, kLab}));
  EXPECT_TRUE(p.delete_routes.empty());
  EXPECT_FALSE(p.changes_nothing());
}

TEST(TunPlan, TheSameConfigAgainChangesNothing) {
  // A new session after a relay restart: flows inside the tunnel must not be disturbed.
  const tunnel::TunnelConfig c = Config(kA, 1420, {kCorp, kLab});
  const TunState now = StateAfter({}, PlanTunChange({}, c, {}));
  EXPECT_EQ(now.address, kA);
  EXPECT_EQ(now.mtu, 1420);
  const TunPlan again = PlanTunChange(now, c, {});
  EXPECT_TRUE(again.changes_nothing());
  // Route order is not a change either.
  EXPECT_TRUE(PlanTunChange(now, Config(kA, 1420, {kLab, kCorp}), {}).changes_nothing());
}

TEST(TunPlan, ANewAddressReaddressesAndKeepsRoutes) {
  const TunState now = StateAfter({}, PlanTunChange({}, Config(kA, 1420, {kCorp}), {}));
  const TunPlan p = PlanTunChange(now, Config(kB, 1420, {kCorp}), {});
  EXPECT_EQ(p.remove_address, kA);
  EXPECT_EQ(p.add_address, kB);
  EXPECT_EQ(p.set_mtu, 0);
  EXPECT_FALSE(p.set_up);
  EXPECT_TRUE(p.add_routes.empty());
  EXPECT_TRUE(p.delete_routes.empty());
}

TEST(TunPlan, RoutesAndMtuChangeByDifference) {
  const TunState now = StateAfter({}, PlanTunChange({}, Config(kA, 1420, {kCorp, kLab}), {}));
  const TunPlan p = PlanTunChange(now, Config(kA, 1380, {kLab, kTen}), {});
  EXPECT_EQ(p.add_address, 0u);
  EXPECT_EQ(p.set_mtu, 1380);
  EXPECT_EQ(p.delete_routes, (std::vector<Ipv4Prefix>{kCorp}));
  EXPECT_EQ(p.add_routes, (std::vector<Ipv4Prefix>{kTen}));
  const TunState after = StateAfter(now, p);
  EXPECT_EQ(after.routes, (std::vector<Ipv4Prefix>{kLab, kTen}));
  EXPECT_TRUE(PlanTunChange(after, Config(kA, 1380, {kLab, kTen}), {}).changes_nothing());
}

TEST(TunPlan, ARouteOverTheLinksOwnAddressIsSkipped) {
  // The relay is at 10.20.0.5: routing 10.20.0.0/16 or 10.0.0.0/8 into the tunnel would carry the link into itself.
  const std::uint32_t avoid[] = {kRelay};
  const TunPlan p = PlanTunChange({}, Config(kA, 1420, {kCorp, kLab, kTen, kCorp}), avoid);
  EXPECT_EQ(p.add_routes, (std::vector<Ipv4Prefix>{kLab}));
  EXPECT_EQ(p.skipped, (std::vector<Ipv4Prefix>{kCorp, kTen}));
}

TEST(TunPlan, PrefixContainment) {
  EXPECT_TRUE(PrefixContains(kCorp, 0x0A14FFFF));
  EXPECT_FALSE(PrefixContains(kCorp, 0x0A150000));
  EXPECT_TRUE(PrefixContains({0, 0}, 0xFFFFFFFF));
  EXPECT_TRUE(PrefixContains({kA, 32}, kA));
  EXPECT_FALSE(PrefixContains({kA, 32}, kB));
}

}  // namespace
}  // namespace strait::device
