// The connector's answer to TUNNEL_REQUEST (docs/ip-tunnel.md §1-§3): an address from its pool with the policy's
// routes and DNS, the same address back when the device returns within the grace period, a different one for
// another device, a refusal when no pool is configured or the pool is exhausted. Real connector, real sessions.
#include <gtest/gtest.h>

#include "tests/connector/connector_test_fixture.h"

namespace strait::connector {
namespace {

using testing::ConnectorTest;
using testing::Device;
using testing::Pki;
using testing::Stepper;
using tunnel::StreamId;

constexpr char kTunnelPolicy[] = R"(
[[allow]]
cidrs = ["127.0.0.0/8"]
ports = ["*"]
[tunnel]
routes = ["10.20.0.0/16"]
dns_servers = ["10.20.0.53"]
dns_domains = ["corp.example"]
)";

struct ConnectorTunnelTest : ConnectorTest {
  ConnectorOptions TunnelOptions(const char* pool = "100.96.0.0/29") {
    ConnectorOptions o = Options();
    o.policy = ParsePolicy(kTunnelPolicy, "tunnel-policy").value();
    AddressPoolOptions p;
    EXPECT_TRUE(ParsePoolCidr(pool, &p).ok());
    o.tunnel_pool = p;
    o.tunnel_mtu = 1400;
    return o;
  }
  // Steps that connect `d` from inside the loop, ask for a tunnel and wait for the answer. One Stepper (one Run)
  // per test: a Stepper's timer must not outlive it.
  std::vector<testing::Step> Ask(Device& d, std::uint16_t mtu_max = 1500) {
    return {{[] { return true; }, [this, &d] { d.Connect(*connector->direct_address()); }},
            {[&d] { return d.established(); }, [&d, mtu_max] { d.RequestTunnel(mtu_max); }},
            {[&d] { return d.tunnel_config.has_value() || d.tunnel_refused.has_value(); }, {}}};
  }
  bool RunSteps(std::vector<std::vector<testing::Step>> parts, std::vector<Device*> devices,
                testing::TargetServer* server = nullptr) {
    std::vector<testing::Step> all;
    for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    Stepper s(*loop, std::move(all));
    for (Device* d : devices) d->on_change = [&] { s.Check(); };
    if (server) server->notify = [&] { s.Check(); };
    on_log = [&] { s.Check(); };
    const bool ok = Run(s);
    for (Device* d : devices) d->on_change = nullptr;
    if (server) server->notify = nullptr;
    on_log = nullptr;
    return ok;
  }
};

TEST_F(ConnectorTunnelTest, AnswersWithAnAddressThePolicysRoutesAndDns) {
  StartConnector(TunnelOptions());
  Device d(*loop, pki, dev, "acme");
  ASSERT_TRUE(RunSteps({Ask(d, 1300)}, {&d}));
  ASSERT_TRUE(d.tunnel_config) << (d.tunnel_refused ? d.tunnel_refused->reason : "no answer");
  const tunnel::TunnelConfig& c = *d.tunnel_config;
  EXPECT_EQ(c.gateway, 0x64600001u);
  EXPECT_EQ(c.address, 0x64600002u);
  EXPECT_EQ(c.mtu, 1300) << "the connector's 1400, lowered to what the device asked for";
  EXPECT_EQ(c.lease_s, 300u);
  EXPECT_EQ(c.routes, (std::vector<tunnel::Ipv4Prefix>{{0x0a140000, 16}}));
  EXPECT_EQ(c.dns_servers, std::vector<uint32_t>{0x0a140035});
  EXPECT_EQ(c.dns_domains, std::vector<std::string>{"corp.example"});
  EXPECT_EQ(connector->stats().tunnel_answered, 1u);
  EXPECT_EQ(connector->stats().tunnel_leases, 1u);
  EXPECT_EQ(testing::Count(log, "tunnel_up"), 1);
}

TEST_F(ConnectorTunnelTest, AReturningDeviceGetsItsAddressBackAndAnotherDeviceDoesNot) {
  StartConnector(TunnelOptions());
  Pki::Member other = pki.Issue(pki.acme, crypto::Role::kDevice, "laptop");
  Device d(*loop, pki, dev, "acme");
  Device o(*loop, pki, other, "acme");
  Device again(*loop, pki, dev, "acme");
  std::uint64_t leases_in_grace = 0;
  ASSERT_TRUE(RunSteps({Ask(d),
                        {{[&] { return d.tunnel_config.has_value(); }, [&] { d.Abort(); }},
                         {[&] { return testing::Count(log, "session_down") == 1; },
                          [&] { leases_in_grace = connector->stats().tunnel_leases; }}},
                        Ask(o), Ask(again)},
                       {&d, &o, &again}));
  EXPECT_EQ(leases_in_grace, 1u) << "the dropped device's lease is in its grace period";
  ASSERT_TRUE(d.tunnel_config);
  ASSERT_TRUE(o.tunnel_config);
  ASSERT_TRUE(again.tunnel_config);
  EXPECT_NE(o.tunnel_config->address, d.tunnel_config->address);
  EXPECT_EQ(again.tunnel_config->address, d.tunnel_config->address);
  EXPECT_EQ(connector->tunnel_pool()->stats().reused_lease, 1u);
}

TEST_F(ConnectorTunnelTest, AnExhaustedPoolRefusesWithOverloadedAndStreamsStillWork) {
  StartConnector(TunnelOptions("100.96.0.0/30"));  // one device address
  Pki::Member other = pki.Issue(pki.acme, crypto::Role::kDevice, "laptop");
  Device d(*loop, pki, dev, "acme");
  Device o(*loop, pki, other, "acme");
  testing::TargetServer echo(*loop, testing::TargetServer::Mode::kEcho);
  StreamId id = 0;
  // The refused device's session carries streams as before.
  ASSERT_TRUE(RunSteps({Ask(d), Ask(o),
                        {{[] { return true; },
                          [&] {
                            id = o.OpenIp(echo.address);
                            o.Send(id, {1, 2, 3}, true);
                          }},
                         {[&] { return o.streams[id].fin; }, {}}}},
                       {&d, &o}, &echo));
  ASSERT_TRUE(d.tunnel_config);
  ASSERT_TRUE(o.tunnel_refused);
  EXPECT_EQ(o.tunnel_refused->code, tunnel::ErrorCode::kOverloaded);
  EXPECT_EQ(connector->stats().tunnel_refused_full, 1u);
  EXPECT_EQ(o.streams[id].received, (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST_F(ConnectorTunnelTest, WithoutAPoolTheRequestIsRefused) {
  StartConnector(Options());
  Device d(*loop, pki, dev, "acme");
  ASSERT_TRUE(RunSteps({Ask(d)}, {&d}));
  ASSERT_TRUE(d.tunnel_refused);
  EXPECT_EQ(d.tunnel_refused->code, tunnel::ErrorCode::kRefusedByPolicy);
  EXPECT_EQ(connector->stats().tunnel_refused_off, 1u);
}

TEST_F(ConnectorTunnelTest, ABadTunnelMtuOrPoolFailsAtCreate) {
  ConnectorOptions o = TunnelOptions();
  o.tunnel_mtu = 100;
  auto c = Connector::Create(*loop, o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("tunnel mtu 100"), std::string::npos) << c.error();
  o = TunnelOptions();
  o.tunnel_pool->prefix_length = 31;
  c = Connector::Create(*loop, o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("tunnel pool"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace strait::connector
