#include "tunnel/ip/ipv4.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ip/packet_builder.h"

namespace strait::ip {
namespace {

using testing::Build;
using testing::Hex;
using testing::PacketSpec;

ParsedIpv4 Parse(const std::vector<uint8_t>& b) { return ParseIpv4(b); }

DropReason DropOf(const std::vector<uint8_t>& b) {
  const ParsedIpv4 r = ParseIpv4(b);
  EXPECT_FALSE(r.ok);
  return r.drop;
}

// Refills the IPv4 header checksum after a test edits the header.
void Reseal(std::vector<uint8_t>& p) {
  const size_t hl = std::min<size_t>(p.size(), (p[0] & 0x0F) * 4u);
  testing::Put16(p, 10, 0);
  testing::Put16(p, 10, testing::NaiveChecksum(std::span<const uint8_t>(p).first(hl)));
}

TEST(Ipv4, ParsesTheKnownSyn) {
  const auto b = Hex(testing::kSynHex);
  const ParsedIpv4 r = Parse(b);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  const Ipv4Packet& p = r.packet;
  EXPECT_EQ(p.src, 0x0A000002u);
  EXPECT_EQ(p.dst, 0x5DB8D822u);
  EXPECT_EQ(p.protocol, protocol::kTcp);
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.id, 0x3A4B);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(p.more_fragments);
  EXPECT_FALSE(p.is_fragment());
  EXPECT_EQ(p.fragment_offset, 0);
  EXPECT_EQ(p.header_length, 20);
  EXPECT_EQ(p.total_length, 60);
  EXPECT_EQ(p.bytes.size(), 60u);
  EXPECT_TRUE(p.options.empty());
  EXPECT_EQ(p.payload.size(), 40u);
  ASSERT_EQ(p.transport, Transport::kTcp);
  EXPECT_EQ(p.tcp.src_port, 51234);
  EXPECT_EQ(p.tcp.dst_port, 443);
  EXPECT_EQ(p.tcp.seq, 0x6C1D2E3Fu);
  EXPECT_EQ(p.tcp.flags, tcp_flag::kSyn);
  EXPECT_TRUE(p.tcp.syn());
  EXPECT_EQ(p.tcp.checksum, testing::kSynTcpChecksum);
  EXPECT_EQ(p.tcp.header.size(), 40u);
  ASSERT_EQ(p.tcp.options.size(), 20u);
  EXPECT_EQ(p.tcp.options[0], 2);  // MSS first
  EXPECT_TRUE(p.tcp.payload.empty());
  EXPECT_TRUE(TransportChecksumValid(p));
}

TEST(Ipv4, ParsesTheKnownUdp) {
  const auto b = Hex(testing::kUdpHex);
  const ParsedIpv4 r = Parse(b);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  EXPECT_FALSE(r.packet.dont_fragment);
  ASSERT_EQ(r.packet.transport, Transport::kUdp);
  EXPECT_EQ(r.packet.udp.src_port, 53535);
  EXPECT_EQ(r.packet.udp.dst_port, 53);
  EXPECT_EQ(r.packet.udp.length, 37);
  EXPECT_EQ(r.packet.udp.checksum, testing::kUdpChecksum);
  EXPECT_EQ(r.packet.udp.payload.size(), 29u);
  EXPECT_EQ(r.packet.udp.payload[0], 0xBE);
  EXPECT_TRUE(TransportChecksumValid(r.packet));
}

TEST(Ipv4, ParsesTheKnownEcho) {
  const auto b = Hex(testing::kEchoHex);
  const ParsedIpv4 r = Parse(b);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  ASSERT_EQ(r.packet.transport, Transport::kIcmp);
  EXPECT_EQ(r.packet.icmp.type, icmp_type::kEchoRequest);
  EXPECT_EQ(r.packet.icmp.code, 0);
  EXPECT_TRUE(r.packet.icmp.is_echo());
  EXPECT_EQ(r.packet.icmp.echo_id, 0x1234);
  EXPECT_EQ(r.packet.icmp.echo_seq, 1);
  EXPECT_EQ(r.packet.icmp.body.size(), 56u);
  EXPECT_TRUE(TransportChecksumValid(r.packet));
}

TEST(Ipv4, NonEchoIcmpHasNoEchoId) {
  PacketSpec s;
  s.protocol = protocol::kIcmp;
  s.l4 = testing::Icmp(11, 0, std::vector<uint8_t>(28, 0x45));  // time exceeded: bytes 4-7 unused
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.packet.icmp.is_echo());
  EXPECT_EQ(r.packet.icmp.echo_id, 0);
  EXPECT_EQ(r.packet.icmp.rest.size(), 4u);
}

TEST(Ipv4, TrailingBytesBeyondTotalLengthAreNotThePacket) {
  auto b = Hex(testing::kUdpHex);
  b.insert(b.end(), {0, 0, 0, 0, 0, 0, 0});  // Ethernet-style padding
  const ParsedIpv4 r = Parse(b);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.bytes.size(), 57u);
  EXPECT_EQ(r.packet.payload.size(), 37u);
  EXPECT_EQ(r.packet.udp.payload.size(), 29u);
  EXPECT_EQ(r.packet.bytes.data() + r.packet.bytes.size(), r.packet.payload.data() + r.packet.payload.size());
}

TEST(Ipv4, UdpDatagramEndsAtItsLength) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.l4 = testing::Udp({1, 2, 3, 4});
  s.l4.insert(s.l4.end(), {9, 9});  // IP payload 14 bytes, UDP length 12
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.udp.length, 12);
  EXPECT_EQ(r.packet.udp.payload.size(), 4u);
}

TEST(Ipv4, OptionsAreSkippedAndExposed) {
  PacketSpec s;
  s.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // router alert, NOPs, end
  s.l4 = testing::Tcp(tcp_flag::kAck, {}, {'h', 'i'});
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  EXPECT_EQ(r.packet.header_length, 28);
  EXPECT_EQ(r.packet.options.size(), 8u);
  EXPECT_EQ(r.packet.options[0], 0x94);
  ASSERT_EQ(r.packet.transport, Transport::kTcp);
  EXPECT_EQ(r.packet.tcp.payload.size(), 2u);
  EXPECT_TRUE(TransportChecksumValid(r.packet));
}

TEST(Ipv4, UnsupportedProtocolParsesAsIpOnly) {
  PacketSpec s;
  s.protocol = 47;  // GRE
  s.l4 = {0, 0, 0x08, 0};
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.transport, Transport::kUnsupported);
  EXPECT_EQ(r.packet.payload.size(), 4u);
  EXPECT_FALSE(TransportChecksumValid(r.packet));
}

TEST(Ipv4, EmptyPayloadIsAnIpPacket) {
  PacketSpec s;
  s.protocol = 59;  // no next header
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.packet.payload.empty());
}

TEST(Ipv4, NonFirstFragmentHasNoTransportHeader) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.flags_offset = 0x2000 | 185;  // MF, offset 1480
  s.l4 = std::vector<uint8_t>(100, 0xEE);
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  EXPECT_TRUE(r.packet.is_fragment());
  EXPECT_TRUE(r.packet.more_fragments);
  EXPECT_EQ(r.packet.fragment_offset, 1480);
  EXPECT_EQ(r.packet.transport, Transport::kNone);
  EXPECT_FALSE(TransportChecksumValid(r.packet));
  // The last fragment too (MF clear, offset set).
  s.flags_offset = 185;
  EXPECT_EQ(ParseIpv4(Build(s)).packet.transport, Transport::kNone);
}

TEST(Ipv4, FirstFragmentCarriesTheTransportHeader) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.flags_offset = 0x2000;  // MF, offset 0
  s.l4 = testing::Udp(std::vector<uint8_t>(100, 1));
  testing::Put16(s.l4, 4, 3000);  // the whole datagram is longer than this fragment
  const auto packet = Build(s);
  const ParsedIpv4 r = ParseIpv4(packet);
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  ASSERT_EQ(r.packet.transport, Transport::kUdp);
  EXPECT_EQ(r.packet.udp.length, 3000);
  EXPECT_EQ(r.packet.udp.payload.size(), 100u);
  EXPECT_FALSE(TransportChecksumValid(r.packet));  // it covers bytes not here
}

// ---- Every rejection ----

TEST(Ipv4, RejectsTooShort) {
  const auto b = Hex(testing::kSynHex);
  for (size_t n = 0; n < 20; ++n) {
    EXPECT_EQ(ParseIpv4(std::span<const uint8_t>(b).first(n)).drop, DropReason::kTooShort) << n;
  }
}

TEST(Ipv4, RejectsBadVersion) {
  auto b = Hex(testing::kSynHex);
  b[0] = 0x65;  // IPv6's version with an IPv4 header
  Reseal(b);
  EXPECT_EQ(DropOf(b), DropReason::kBadVersion);
  b[0] = 0x05;
  Reseal(b);
  EXPECT_EQ(DropOf(b), DropReason::kBadVersion);
}

TEST(Ipv4, RejectsBadHeaderLength) {
  auto b = Hex(testing::kSynHex);
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    b[0] = static_cast<uint8_t>(0x40 | ihl);
    EXPECT_EQ(DropOf(b), DropReason::kBadHeaderLength) << int{ihl};
  }
  // IHL 15 (60 bytes) with only 40 bytes in the buffer.
  b[0] = 0x4F;
  EXPECT_EQ(ParseIpv4(std::span<const uint8_t>(b).first(40)).drop, DropReason::kBadHeaderLength);
}

TEST(Ipv4, RejectsBadTotalLength) {
  auto b = Hex(testing::kSynHex);
  testing::Put16(b, 2, 61);  // one beyond the buffer
  Reseal(b);
  EXPECT_EQ(DropOf(b), DropReason::kBadTotalLength);
  testing::Put16(b, 2, 19);  // inside the header
  Reseal(b);
  EXPECT_EQ(DropOf(b), DropReason::kBadTotalLength);
  testing::Put16(b, 2, 0);
  Reseal(b);
  EXPECT_EQ(DropOf(b), DropReason::kBadTotalLength);
  // A truncated packet: the header says 60, 59 arrived.
  const auto whole = Hex(testing::kSynHex);
  EXPECT_EQ(ParseIpv4(std::span<const uint8_t>(whole).first(59)).drop, DropReason::kBadTotalLength);
}

TEST(Ipv4, RejectsBadHeaderChecksum) {
  for (size_t byte = 0; byte < 20; ++byte) {
    if (byte == 0 || byte == 2 || byte == 3) continue;  // those change what is judged first
    auto b = Hex(testing::kSynHex);
    b[byte] ^= 0x01;
    EXPECT_EQ(DropOf(b), DropReason::kBadHeaderChecksum) << byte;
  }
}

TEST(Ipv4, RejectsFragmentsThatReassembleBeyond65535) {
  PacketSpec s;
  s.protocol = protocol::kIcmp;
  s.flags_offset = 0x1FFF;  // offset 65528, the last fragment
  s.l4 = std::vector<uint8_t>(8, 0);
  // 65528 + 8 + 20 = 65556 > 65535: the "ping of death".
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadFragment);
  s.flags_offset = (65535 - 20 - 8) / 8;  // offset 65504: ends at 65532, within
  EXPECT_TRUE(ParseIpv4(Build(s)).ok);
}

TEST(Ipv4, RejectsTcpFragmentAtOffsetEight) {
  PacketSpec s;
  s.protocol = protocol::kTcp;
  s.flags_offset = 1;  // offset 8: would overwrite the first fragment's TCP flags (RFC 1858)
  s.l4 = std::vector<uint8_t>(24, 0);
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadFragment);
  s.protocol = protocol::kUdp;  // other protocols may
  EXPECT_TRUE(ParseIpv4(Build(s)).ok);
  s.protocol = protocol::kTcp;
  s.flags_offset = 2;
  EXPECT_TRUE(ParseIpv4(Build(s)).ok);
}

TEST(Ipv4, RejectsBadTcpHeader) {
  PacketSpec s;
  // Fewer than 20 bytes of TCP.
  s.l4 = std::vector<uint8_t>(19, 0);
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadTcpHeader);
  // Data offset below 5.
  for (uint8_t off = 0; off < 5; ++off) {
    s.l4 = testing::Tcp(tcp_flag::kAck);
    s.l4[12] = static_cast<uint8_t>(off << 4);
    EXPECT_EQ(DropOf(Build(s)), DropReason::kBadTcpHeader) << int{off};
  }
  // Data offset beyond the packet: 15 words (60 bytes) in a 40-byte segment.
  s.l4 = testing::Tcp(tcp_flag::kSyn, {2, 4, 5, 0xB4}, std::vector<uint8_t>(16, 0));
  s.l4[12] = 0xF0;
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadTcpHeader);
  // A first fragment too small to hold the TCP header (RFC 1858's tiny fragment).
  s.flags_offset = 0x2000;
  s.l4 = std::vector<uint8_t>(16, 0);
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadTcpHeader);
}

TEST(Ipv4, RejectsBadUdpHeader) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  for (size_t n = 0; n < 8; ++n) {
    s.l4 = std::vector<uint8_t>(n, 0);
    EXPECT_EQ(DropOf(Build(s)), DropReason::kBadUdpHeader) << n;
  }
}

TEST(Ipv4, RejectsBadUdpLength) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.l4 = testing::Udp({1, 2, 3, 4});
  for (uint16_t len : {uint16_t{0}, uint16_t{7}, uint16_t{13}, uint16_t{0xFFFF}}) {
    testing::Put16(s.l4, 4, len);
    EXPECT_EQ(DropOf(Build(s)), DropReason::kBadUdpLength) << len;
  }
  // In a first fragment, the length must cover at least the bytes here.
  s.flags_offset = 0x2000;
  testing::Put16(s.l4, 4, 11);
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadUdpLength);
  testing::Put16(s.l4, 4, 7);
  EXPECT_EQ(DropOf(Build(s)), DropReason::kBadUdpLength);
}

TEST(Ipv4, RejectsBadIcmpHeader) {
  PacketSpec s;
  s.protocol = protocol::kIcmp;
  for (size_t n = 0; n < 8; ++n) {
    s.l4 = std::vector<uint8_t>(n, 8);
    EXPECT_EQ(DropOf(Build(s)), DropReason::kBadIcmpHeader) << n;
  }
}

TEST(Ipv4, TransportChecksumValidCatchesAFlippedByte) {
  for (std::string_view hex : {testing::kSynHex, testing::kUdpHex, testing::kEchoHex}) {
    auto b = Hex(hex);
    b.back() ^= 0x40;
    const ParsedIpv4 r = Parse(b);
    ASSERT_TRUE(r.ok);
    EXPECT_FALSE(TransportChecksumValid(r.packet)) << hex;
  }
}

TEST(Ipv4, UdpChecksumZeroMeansNone) {
  auto b = Hex(testing::kUdpHex);
  testing::Put16(b, 26, 0);
  const ParsedIpv4 r = Parse(b);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(TransportChecksumValid(r.packet));
}

TEST(Ipv4, DropReasonNamesAreStableAndDistinct) {
  const std::vector<std::string> expected = {
      "too_short",    "bad_version",    "bad_header_length", "bad_total_length", "bad_header_checksum",
      "bad_fragment", "bad_tcp_header", "bad_udp_header",    "bad_udp_length",   "bad_icmp_header"};
  ASSERT_EQ(expected.size(), kDropReasonCount);
  std::set<std::string_view> seen;
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    const std::string_view name = DropReasonName(static_cast<DropReason>(i));
    EXPECT_EQ(name, expected[i]);
    EXPECT_TRUE(seen.insert(name).second);
  }
}

}  // namespace
}  // namespace strait::ip
