// DeviceFleet against a real in-process relay (tests/relay/relay_harness.h): each mode reaches its goal with
// distinct device credentials, spreads over source addresses, and fails in bounded time against a port where no
// relay listens.
#include "bench/suite/load/device_fleet.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "tests/relay/relay_harness.h"
#include "tests/runtime/test_util.h"

namespace strait::bench {
namespace {

using relay::testing::ClientTls;
using relay::testing::Pki;
using relay::testing::RelayFixture;
using namespace std::chrono_literals;

std::vector<link::LinkConfig> Devices(RelayFixture& f, std::uint32_t n) {
  std::vector<link::LinkConfig> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    const relay::testing::PeerId id = Pki::Issue(f.acme, crypto::Role::kDevice, fmt::format("dev-{}", i));
    link::LinkConfig c;
    c.tls = &ClientTls();
    c.client = link::ClientLoginConfig::Of(id.credential, id.key, tunnel::LinkRole::kDevice);
    c.client.server_root = f.pki.root.public_key;  // checks the relay's credential, as a device does
    out.push_back(std::move(c));
  }
  return out;
}

void ExpectTimelineAddsUp(const FleetResult& r) {
  std::uint64_t ops = 0;
  for (std::size_t i = 0; i < r.timeline.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(r.timeline[i].t, r.timeline[i - 1].t);
    }
    ops += r.timeline[i].ops;
  }
  EXPECT_EQ(ops, r.logins);
}

TEST(DeviceFleet, HoldsEveryLinkUpThenCloses) {
  RelayFixture f;
  f.Start();
  const auto devices = Devices(f, 40);
  FleetOptions o;
  o.mode = FleetMode::kHold;
  o.relay = f.relay->device_address();
  o.devices = 40;
  o.parallel = 8;
  o.hold = 300ms;
  o.timeout = 20s;
  std::uint64_t links_at_all_up = 0;
  o.on_all_up = [&] {
    f.WaitMetrics([](const relay::MetricsSnapshot& s) { return s.device_links == 40; }, 5s);
    links_at_all_up = f.relay->Snapshot().device_links;
  };
  auto r = RunFleet(o, devices);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->complete) << r->last_error;
  EXPECT_EQ(links_at_all_up, 40u);  // the relay saw 40 distinct devices at once
  EXPECT_EQ(r->logins, 40u);
  EXPECT_EQ(r->peak_up, 40u);
  EXPECT_EQ(r->errors, 0u) << r->last_error;
  EXPECT_EQ(r->login_ns.count(), 40u);
  EXPECT_GT(r->login_ns.min(), 0u);
  EXPECT_EQ(r->tls_version, "TLSv1.3");
  EXPECT_FALSE(r->cipher.empty());
  ExpectTimelineAddsUp(*r);
  EXPECT_TRUE(f.WaitMetrics([](const relay::MetricsSnapshot& s) { return s.device_links == 0; }, 10s));
}

TEST(DeviceFleet, StormLogsInEveryDeviceFromSeveralSources) {
  RelayFixture f;
  f.Start();
  const auto devices = Devices(f, 10);
  FleetOptions o;
  o.mode = FleetMode::kStorm;
  o.relay = f.relay->device_address();
  for (const char* s : {"127.0.0.2:0", "127.0.0.3:0"}) o.sources.push_back(runtime::ParseSocketAddress(s).value());
  o.devices = 60;  // more logins than credentials: device i uses credential i % 10
  o.parallel = 6;  // at most 6 at once, so never more than 8 links of one credential
  o.timeout = 20s;
  auto r = RunFleet(o, devices);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->complete) << r->last_error;
  EXPECT_EQ(r->logins, 60u);
  EXPECT_EQ(r->errors, 0u) << r->last_error;
  EXPECT_EQ(r->dials, 60u);
  EXPECT_GT(r->window_s, 0);
  EXPECT_EQ(r->login_ns.count(), 60u);
  ExpectTimelineAddsUp(*r);
}

TEST(DeviceFleet, ReconnectBringsEveryDeviceBack) {
  RelayFixture f;
  f.Start();
  const auto devices = Devices(f, 30);
  FleetOptions o;
  o.mode = FleetMode::kReconnect;
  o.relay = f.relay->device_address();
  o.devices = 30;
  o.parallel = 30;
  o.hold = 100ms;
  o.timeout = 20s;
  auto r = RunFleet(o, devices);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->complete) << r->last_error;
  EXPECT_EQ(r->recover_ns.count(), 30u);  // each device once
  EXPECT_EQ(r->logins, 60u);              // up, then back
  EXPECT_GT(r->window_s, 0);
  EXPECT_LE(r->recover_ns.max(), static_cast<std::uint64_t>(r->window_s * 1e9) + 1);
}

TEST(DeviceFleet, NoRelayFailsInBoundedTime) {
  RelayFixture f;
  const auto devices = Devices(f, 2);
  std::uint16_t port = 0;
  const int lfd = runtime::testing::ListenLoopback(&port);
  close(lfd);  // nothing listens there now
  FleetOptions o;
  o.mode = FleetMode::kHold;
  o.relay = runtime::testing::Loopback(port);
  o.devices = 2;
  o.timeout = 10s;
  auto r = RunFleet(o, devices);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->logins, 0u);
  EXPECT_GE(r->errors, 2u);
  EXPECT_NE(r->last_error.find("of 2 links up"), std::string::npos) << r->last_error;
}

TEST(DeviceFleet, StopFlagEndsTheHold) {
  RelayFixture f;
  f.Start();
  const auto devices = Devices(f, 4);
  std::atomic<bool> stop{false};
  FleetOptions o;
  o.mode = FleetMode::kHold;
  o.relay = f.relay->device_address();
  o.devices = 4;
  o.hold = 3600s;  // only the flag ends it
  o.stop = &stop;
  o.on_all_up = [&] { stop.store(true); };
  auto r = RunFleet(o, devices);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->stopped);
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->logins, 4u);
}

TEST(DeviceFleet, RefusesBadOptions) {
  FleetOptions o;
  EXPECT_FALSE(RunFleet(o, {}));
  RelayFixture f;
  const auto devices = Devices(f, 1);
  o.devices = 0;
  EXPECT_FALSE(RunFleet(o, devices));
  o.devices = 1;
  o.parallel = 0;
  EXPECT_FALSE(RunFleet(o, devices));
}

}  // namespace
}  // namespace strait::bench
