// The IP tunnel's set-up payloads (tunnel/tunnel_control.h, docs/ip-tunnel.md §1): round trips, the exact bytes of
// one config, every bound and every unusable config refused with a reason naming it, truncation at every length.
#include "tunnel/tunnel_control.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strait::tunnel {
namespace {

TunnelConfig Sample() {
  TunnelConfig c;
  c.address = 0x64600002;  // 100.96.0.2
  c.gateway = 0x64600001;
  c.mtu = 1400;
  c.lease_s = 300;
  c.routes = {{0x0a140000, 16}, {0xc0a80100, 24}};
  c.dns_servers = {0x0a140035};
  c.dns_domains = {"corp.example"};
  return c;
}

std::vector<uint8_t> Encode(const TunnelConfig& c) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(EncodeTunnelConfig(c, &out).ok());
  return out;
}

TEST(TunnelControl, ConfigHasTheDocumentedLayout) {
  const std::vector<uint8_t> expect = {
      100, 96, 0, 2, 100, 96, 0, 1, 0x05, 0x78, 0, 0, 0x01, 0x2c,  // address, gateway, mtu 1400, lease 300
      2, 10, 20, 0, 0, 16, 192, 168, 1, 0, 24,                     // two routes
      1, 10, 20, 0, 0x35,                                          // one DNS server
      1, 12, 'c', 'o', 'r', 'p', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
  EXPECT_EQ(Encode(Sample()), expect);
  auto back = DecodeTunnelConfig(expect, 1500);
  ASSERT_TRUE(back.ok()) << back.error().reason;
  EXPECT_EQ(*back, Sample());
}

TEST(TunnelControl, RequestAndRefusedRoundTrip) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(EncodeTunnelRequest({1400}, &out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0x05, 0x78}));
  EXPECT_EQ(DecodeTunnelRequest(out)->mtu_max, 1400);
  EXPECT_FALSE(DecodeTunnelRequest(std::vector<uint8_t>{0x02, 0x3f}).ok());  // 575
  EXPECT_FALSE(EncodeTunnelRequest({100}, &out).ok());

  out.clear();
  ASSERT_TRUE(EncodeTunnelRefused({ErrorCode::kOverloaded, "pool exhausted"}, &out).ok());
  auto r = DecodeTunnelRefused(out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, ErrorCode::kOverloaded);
  EXPECT_EQ(r->reason, "pool exhausted");
  EXPECT_FALSE(EncodeTunnelRefused({ErrorCode::kOverloaded, std::string(256, 'x')}, &out).ok());
}

TEST(TunnelControl, TrailingBytesAreLeftForLaterRevisions) {
  std::vector<uint8_t> b = Encode(Sample());
  b.push_back(0xee);
  EXPECT_TRUE(DecodeTunnelConfig(b, 1500).ok());
}

TEST(TunnelControl, EveryTruncationIsRefused) {
  const std::vector<uint8_t> b = Encode(Sample());
  for (size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(DecodeTunnelConfig(std::span(b).first(n), 1500).ok()) << n << " bytes";
  }
}

TEST(TunnelControl, UnusableConfigsAreRefusedWithAReason) {
  auto refused = [](TunnelConfig c, uint16_t mtu_max, std::string_view words) {
    std::vector<uint8_t> out;
    auto e = EncodeTunnelConfig(c, &out);
    // The encoder refuses what the decoder refuses (except the mtu_max the encoder does not know).
    if (e.ok()) {
      auto d = DecodeTunnelConfig(out, mtu_max);
      ASSERT_FALSE(d.ok());
      EXPECT_NE(d.error().reason.find(words), std::string::npos) << d.error().reason;
    } else {
      EXPECT_TRUE(out.empty());
      EXPECT_NE(e.error().reason.find(words), std::string::npos) << e.error().reason;
    }
  };
  TunnelConfig c = Sample();
  c.address = c.gateway;
  refused(c, 1500, "gateway");
  c = Sample();
  c.address = 0;
  refused(c, 1500, "0.0.0.0");
  c = Sample();
  c.mtu = 575;
  refused(c, 1500, "below");
  refused(Sample(), 1300, "above the 1300");
  c = Sample();
  c.routes.push_back({0x0a140100, 16});
  refused(c, 1500, "10.20.1.0/16 has host bits");
  c = Sample();
  c.routes.push_back({0, 33});
  refused(c, 1500, "/33");
  c = Sample();
  c.routes.assign(kMaxTunnelRoutes + 1, {0x0a000000, 8});
  refused(c, 1500, "routes");
  c = Sample();
  c.dns_servers.assign(kMaxTunnelDns + 1, 1);
  refused(c, 1500, "DNS servers");
  c = Sample();
  c.dns_domains = {"bad domain"};
  refused(c, 1500, "DNS name");
  c = Sample();
  c.dns_domains.assign(kMaxTunnelDomains + 1, "a.example");
  refused(c, 1500, "DNS domains");
}

TEST(TunnelControl, CountsAboveTheBoundsAreRefusedBeforeReadingOn) {
  std::vector<uint8_t> b = Encode(Sample());
  b[14] = kMaxTunnelRoutes + 1;  // n_routes
  auto d = DecodeTunnelConfig(b, 1500);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().reason.find("more than 64 routes"), std::string::npos);
}

TEST(TunnelControl, AddressText) {
  EXPECT_EQ(Ipv4Text(0x64600001), "100.96.0.1");
  EXPECT_EQ(Ipv4PrefixText({0x0a140000, 16}), "10.20.0.0/16");
}

}  // namespace
}  // namespace strait::tunnel
