// The connector's packet path decisions (tunnel/connector/packet_filter.h, docs/ip-tunnel.md §2, §4): rules from a
// real policy file, packets built with correct checksums (tests/ip/packet_builder.h); every drop reason, the ICMP
// answers (parsed back), the MSS clamp, the ICMP rate limit.
#include "tunnel/connector/packet_filter.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/ip/packet_builder.h"
#include "tunnel/connector/policy_file.h"
#include "tunnel/ip/ipv4.h"

namespace strait::connector {
namespace {

using ip::testing::Build;
using ip::testing::Icmp;
using ip::testing::PacketSpec;
using ip::testing::Tcp;
using ip::testing::Udp;

constexpr uint32_t kDevice = 0x64600002;   // 100.96.0.2
constexpr uint32_t kOther = 0x64600003;    // 100.96.0.3
constexpr uint32_t kGateway = 0x64600001;  // 100.96.0.1
constexpr uint32_t kCorpWeb = 0x0a140005;  // 10.20.0.5
constexpr uint32_t kCorpDb = 0x0a146305;   // 10.20.99.5 (denied subnet)
constexpr uint32_t kElsewhere = 0x08080808;

std::vector<uint8_t> Pkt(uint32_t src, uint32_t dst, uint8_t protocol, std::vector<uint8_t> l4,
                         uint16_t flags_offset = 0x4000) {
  PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.protocol = protocol;
  s.flags_offset = flags_offset;
  s.l4 = std::move(l4);
  return Build(s);
}

constexpr char kRules[] = R"(
[tunnel]
[[tunnel.allow]]
cidrs = ["10.20.0.0/16"]
protocols = ["tcp", "udp", "icmp"]
ports = ["*"]
[[tunnel.allow]]
cidrs = ["10.30.0.0/16"]
protocols = ["tcp"]
ports = ["443"]
[[tunnel.deny]]
cidrs = ["10.20.99.0/24"]
)";

struct PacketFilterTest : ::testing::Test {
  Policy policy = ParsePolicy(kRules, "rules.toml").value();
  PacketFilterOptions Options() {
    PacketFilterOptions o;
    o.pool_network = 0x64600000;
    o.pool_prefix = 16;
    o.gateway = kGateway;
    o.mtu = 1400;
    return o;
  }
  PacketFilter filter{Options()};
  std::vector<uint8_t> answer = std::vector<uint8_t>(ip::kIcmpErrorMaxSize);

  std::vector<uint8_t> TcpTo(uint32_t dst, uint16_t port, uint8_t flags = 0x10, uint32_t src = kDevice) {
    std::vector<uint8_t> t = Tcp(flags);
    ip::testing::Put16(t, 2, port);
    return Pkt(src, dst, 6, t);
  }
  FilterResult From(std::vector<uint8_t>& p, uint64_t now_ms = 1000) {
    return filter.FromDevice(p, kDevice, now_ms, answer, &policy.tunnel());
  }
  // The ICMP error in `answer`: type 3 and this code, from the gateway to the device.
  void ExpectAnswer(const FilterResult& r, uint8_t code) {
    ASSERT_GT(r.answer_size, 0u);
    const ip::ParsedIpv4 a = ip::ParseIpv4(std::span(answer).first(r.answer_size));
    ASSERT_TRUE(a.ok);
    EXPECT_EQ(a.packet.src, kGateway);
    EXPECT_EQ(a.packet.dst, kDevice);
    EXPECT_EQ(a.packet.icmp.type, 3);
    EXPECT_EQ(a.packet.icmp.code, code);
  }
};

TEST_F(PacketFilterTest, AllowedPacketsGoThrough) {
  auto web = TcpTo(kCorpWeb, 80);
  EXPECT_TRUE(From(web).forward);
  auto dns = Pkt(kDevice, kCorpWeb, 17, Udp({1, 2, 3}));
  EXPECT_TRUE(From(dns).forward);
  auto ping = Pkt(kDevice, kCorpWeb, 1, Icmp(8, 0, {1, 2, 3, 4}));
  EXPECT_TRUE(From(ping).forward);
  auto https = TcpTo(0x0a1e0001, 443);
  EXPECT_TRUE(From(https).forward);
  EXPECT_EQ(filter.stats().forwarded_from_devices, 4u);
}

TEST_F(PacketFilterTest, DeniedPacketsAreAnsweredAdministrativelyProhibited) {
  auto denied_subnet = TcpTo(kCorpDb, 5432);
  FilterResult r = From(denied_subnet);
  EXPECT_FALSE(r.forward);
  EXPECT_EQ(r.drop, PacketDrop::kDeniedByPolicy);
  ExpectAnswer(r, 13);
  auto wrong_port = TcpTo(0x0a1e0001, 22);  // 10.30/16 allows tcp 443 only
  EXPECT_EQ(From(wrong_port).drop, PacketDrop::kDeniedByPolicy);
  auto udp_where_tcp_only = Pkt(kDevice, 0x0a1e0001, 17, Udp({1}));
  EXPECT_EQ(From(udp_where_tcp_only).drop, PacketDrop::kDeniedByPolicy);
  auto nowhere = TcpTo(kElsewhere, 443);
  EXPECT_EQ(From(nowhere).drop, PacketDrop::kDeniedByPolicy);
  // An ICMP type a device has no business sending (a redirect) is denied even where icmp is allowed.
  auto redirect = Pkt(kDevice, kCorpWeb, 1, Icmp(5, 1));
  EXPECT_EQ(From(redirect).drop, PacketDrop::kDeniedByPolicy);
  EXPECT_EQ(filter.stats().drops[static_cast<size_t>(PacketDrop::kDeniedByPolicy)], 5u);
}

TEST_F(PacketFilterTest, SpoofedSourcesAreDroppedWithoutAnAnswer) {
  auto spoofed = TcpTo(kCorpWeb, 80, 0x10, kOther);
  FilterResult r = From(spoofed);
  EXPECT_EQ(r.drop, PacketDrop::kSpoofedSource);
  EXPECT_EQ(r.answer_size, 0u);
}

TEST_F(PacketFilterTest, AnotherDevicesAddressAndTheGatewayAreNotReachable) {
  auto peer = TcpTo(kOther, 22);
  FilterResult r = From(peer);
  EXPECT_EQ(r.drop, PacketDrop::kPeerAddress);
  ExpectAnswer(r, 13);
  auto gw = TcpTo(kGateway, 22);
  EXPECT_EQ(From(gw).drop, PacketDrop::kToGateway);
  // With device_to_device on in the sender's policy, a peer's address goes through (the rules do not judge the
  // pool); the same filter judges each packet by the policy passed with it.
  TunnelPolicy peers = policy.tunnel();
  peers.device_to_device = true;
  auto again = TcpTo(kOther, 22);
  EXPECT_TRUE(filter.FromDevice(again, kDevice, 0, answer, &peers).forward);
  auto closed = TcpTo(kOther, 22);
  EXPECT_EQ(From(closed).drop, PacketDrop::kPeerAddress);
  // No policy: nothing leaves the device, neither to a peer nor out of the pool.
  auto none = TcpTo(kOther, 22);
  EXPECT_EQ(filter.FromDevice(none, kDevice, 0, answer, nullptr).drop, PacketDrop::kPeerAddress);
  auto out = TcpTo(kCorpWeb, 443);
  EXPECT_EQ(filter.FromDevice(out, kDevice, 0, answer, nullptr).drop, PacketDrop::kDeniedByPolicy);
}

TEST_F(PacketFilterTest, TooBigWithDfIsAnsweredFragmentationNeededWithTheMtu) {
  auto big = Pkt(kDevice, kCorpWeb, 17, Udp(std::vector<uint8_t>(1500)));
  FilterResult r = From(big);
  EXPECT_EQ(r.drop, PacketDrop::kTooBig);
  ExpectAnswer(r, 4);
  const ip::ParsedIpv4 a = ip::ParseIpv4(std::span(answer).first(r.answer_size));
  EXPECT_EQ(ip::testing::Get16(a.packet.icmp.rest, 2), 1400) << "the next-hop MTU";
  auto big_no_df = Pkt(kDevice, kCorpWeb, 17, Udp(std::vector<uint8_t>(1500)), 0);
  r = From(big_no_df);
  EXPECT_EQ(r.drop, PacketDrop::kTooBig);
  EXPECT_EQ(r.answer_size, 0u);
}

TEST_F(PacketFilterTest, MalformedPacketsAreDroppedAndCountedByReason) {
  auto bad = TcpTo(kCorpWeb, 80);
  bad[10] ^= 0xff;  // header checksum
  EXPECT_EQ(From(bad).drop, PacketDrop::kMalformed);
  std::vector<uint8_t> tiny = {0x45, 0};
  EXPECT_EQ(From(tiny).drop, PacketDrop::kMalformed);
  EXPECT_EQ(filter.stats().malformed[static_cast<size_t>(ip::DropReason::kBadHeaderChecksum)], 1u);
  EXPECT_EQ(filter.stats().malformed[static_cast<size_t>(ip::DropReason::kTooShort)], 1u);
  EXPECT_EQ(filter.ToDevice(tiny).drop, PacketDrop::kMalformed);
}

TEST_F(PacketFilterTest, SynsAreClampedBothWays) {
  const std::vector<uint8_t> mss1460 = {2, 4, 0x05, 0xb4};
  auto syn = Pkt(kDevice, kCorpWeb, 6, Tcp(0x02, mss1460));
  ASSERT_TRUE(From(syn).forward);
  const ip::ParsedIpv4 p = ip::ParseIpv4(syn);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(ip::testing::Get16(p.packet.tcp.options, 2), 1360);
  EXPECT_TRUE(ip::TransportChecksumValid(p.packet));
  auto synack = Pkt(kCorpWeb, kDevice, 6, Tcp(0x12, mss1460));
  ASSERT_TRUE(filter.ToDevice(synack).forward);
  EXPECT_EQ(filter.stats().mss_clamped, 2u);
}

TEST_F(PacketFilterTest, IcmpAnswersAreRateLimited) {
  PacketFilterOptions o = Options();
  o.icmp_per_second = 3;
  PacketFilter f(o);
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    auto p = TcpTo(kCorpDb, 1);
    answered += f.FromDevice(p, kDevice, 5000, answer, &policy.tunnel()).answer_size > 0;
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(f.stats().icmp_limited, 7u);
  auto p = TcpTo(kCorpDb, 1);
  EXPECT_GT(f.FromDevice(p, kDevice, 5400, answer, &policy.tunnel()).answer_size, 0u)
      << "tokens come back over time";
}

TEST_F(PacketFilterTest, FragmentsFollowTheRulesWithoutPorts) {
  // A non-first fragment to 10.20/16 (all ports allowed) goes; to 10.30/16 (tcp 443 only) it cannot be judged.
  std::vector<uint8_t> body(64, 7);
  auto frag_ok = Pkt(kDevice, kCorpWeb, 6, body, 0x0010);
  EXPECT_TRUE(From(frag_ok).forward);
  auto frag_443 = Pkt(kDevice, 0x0a1e0001, 6, body, 0x0010);
  EXPECT_EQ(From(frag_443).drop, PacketDrop::kDeniedByPolicy);
}

TEST(TunnelRulesFile, ErrorsNameTheRule) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"[[tunnel.allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [\"*\"]", "tunnel.allow[0]: allow rule needs protocols"},
      {"[[tunnel.allow]]\ncidrs = [\"10.0.0.0/8\"]\nprotocols = [\"tcp\"]", "needs ports"},
      {"[[tunnel.allow]]\ncidrs = [\"10.0.0.0/8\"]\nprotocols = [\"sctp\"]", "unknown protocol \"sctp\""},
      {"[[tunnel.deny]]\nprotocols = [\"tcp\"]", "tunnel.deny[0]: rule has no cidrs"},
      {"[[tunnel.deny]]\ncidrs = [\"fd00::/8\"]", "bad IPv4 CIDR"},
      {"[tunnel]\ndevice_to_device = 1", "tunnel.device_to_device: must be true or false"},
  };
  for (const Case& c : cases) {
    auto p = ParsePolicy(c.text, "t.toml");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.error().reason.find(c.error), std::string::npos) << p.error().reason;
  }
  // An icmp-only allow rule needs no ports.
  EXPECT_TRUE(ParsePolicy("[[tunnel.allow]]\ncidrs = [\"10.0.0.0/8\"]\nprotocols = [\"icmp\"]", "t.toml").ok());
}

}  // namespace
}  // namespace strait::connector
