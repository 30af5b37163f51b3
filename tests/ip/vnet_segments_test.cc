#include "tunnel/ip/vnet_segments.h"

#include <algorithm>
#include <bit>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/tun_device.h"
#include "tests/ip/packet_builder.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/tunnel_mtu.h"

namespace strait::ip {
namespace {

using testing::Get16;
using testing::Hex;
using testing::PacketSpec;

constexpr size_t kMtu = kDefaultTunnelMtu;  // 1,420
// Timestamps (NOP, NOP, kind 8 length 10): what Linux puts on every data segment; 12 bytes, so MSS 1380 carries
// gso_size 1368.
const std::vector<uint8_t> kTimestamps = {1, 1, 8, 10, 0x1B, 0x3C, 0x5D, 0x7E, 0x00, 0x11, 0x22, 0x33};
constexpr uint8_t kCwr = 0x80;
constexpr uint8_t kEce = 0x40;

uint32_t Get32(std::span<const uint8_t> b, size_t at) {
  return (uint32_t{Get16(b, at)} << 16) | Get16(b, at + 2);
}

// The super-segment as the kernel hands it over: a whole IPv4/TCP packet whose TCP checksum field holds only the
// pseudo-header's sum (NEEDS_CSUM), preceded by its virtio_net_hdr.
struct SuperSegment {
  std::vector<uint8_t> read;     // header + packet
  std::vector<uint8_t> data;     // the TCP payload
  std::vector<uint8_t> packet;   // the IPv4 packet alone
};

SuperSegment MakeSuperSegment(size_t data_size, uint16_t gso_size, uint8_t flags, std::vector<uint8_t> ip_options = {},
                              uint8_t gso_type = kVnetGsoTcpv4) {
  SuperSegment s;
  s.data.resize(data_size);
  for (size_t i = 0; i < data_size; ++i) s.data[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
  PacketSpec spec;
  spec.options = std::move(ip_options);
  spec.l4 = testing::Tcp(flags, kTimestamps, s.data);
  s.packet = Build(spec);
  const size_t ip_hl = 20 + spec.options.size();
  const size_t tcp_length = s.packet.size() - ip_hl;
  testing::Put16(std::span<uint8_t>(s.packet).subspan(ip_hl), 16,
                 testing::NaivePseudoSum(spec.src, spec.dst, 6, tcp_length));
  VnetHeader h;
  h.flags = kVnetFlagNeedsCsum;
  h.gso_type = gso_type;
  h.hdr_len = static_cast<uint16_t>(ip_hl + 20 + kTimestamps.size());
  h.gso_size = gso_size;
  h.csum_start = static_cast<uint16_t>(ip_hl);
  h.csum_offset = 16;
  s.read.resize(kVnetHdrSize);
  EncodeVnetHeader(h, s.read);
  s.read.insert(s.read.end(), s.packet.begin(), s.packet.end());
  return s;
}

std::vector<uint8_t> WithHeader(const VnetHeader& h, std::span<const uint8_t> packet) {
  std::vector<uint8_t> read(kVnetHdrSize);
  EncodeVnetHeader(h, read);
  read.insert(read.end(), packet.begin(), packet.end());
  return read;
}

std::vector<std::vector<uint8_t>> SplitAll(const GsoPlan& plan) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> room(65536);
  const size_t n = SplitGso(
      plan, [&](size_t, size_t) { return std::span<uint8_t>(room); },
      [&](size_t, std::span<uint8_t> segment) { out.emplace_back(segment.begin(), segment.end()); });
  EXPECT_EQ(n, plan.segments);
  return out;
}

// Every property a segment must have, each checked against the super-segment and the naive RFC 1071 reference.
void ExpectSegmentsValid(const SuperSegment& s, const std::vector<std::vector<uint8_t>>& segments, uint16_t gso_size) {
  const ParsedIpv4 super = ParseIpv4(s.packet);
  ASSERT_TRUE(super.ok);
  const Ipv4Packet& sp = super.packet;
  ASSERT_EQ(segments.size(), (s.data.size() + gso_size - 1) / gso_size);
  std::vector<uint8_t> joined;
  uint32_t next_seq = sp.tcp.seq;
  for (size_t i = 0; i < segments.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    const ParsedIpv4 r = ParseIpv4(segments[i]);
    ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
    const Ipv4Packet& p = r.packet;
    ASSERT_EQ(p.transport, Transport::kTcp);
    EXPECT_LE(p.bytes.size(), kMtu);
    EXPECT_EQ(p.bytes.size(), segments[i].size());
    const bool last = i + 1 == segments.size();
    EXPECT_EQ(p.tcp.payload.size(), last ? s.data.size() - i * gso_size : gso_size);
    // IPv4: the checksum verifies by the naive sum; the ID increments; the rest is the super-segment's.
    EXPECT_EQ(testing::NaiveSum(p.header), 0xFFFF);
    EXPECT_EQ(p.id, static_cast<uint16_t>(sp.id + i));
    EXPECT_EQ(p.src, sp.src);
    EXPECT_EQ(p.dst, sp.dst);
    EXPECT_EQ(p.ttl, sp.ttl);
    EXPECT_EQ(p.tos, sp.tos);
    EXPECT_EQ(p.dont_fragment, sp.dont_fragment);
    EXPECT_TRUE(std::ranges::equal(p.options, sp.options));
    // TCP: the checksum verifies by the naive sum and equals a from-scratch computation; sequence contiguous.
    EXPECT_EQ(testing::NaiveSum(p.payload, testing::NaivePseudoSum(p.src, p.dst, 6, p.payload.size())), 0xFFFF);
    // From scratch: everything but the checksum field (bytes 16-17; both pieces start at even offsets).
    const uint16_t pseudo = testing::NaivePseudoSum(p.src, p.dst, 6, p.payload.size());
    EXPECT_EQ(p.tcp.checksum, testing::NaiveChecksum(p.payload.subspan(18), testing::NaiveSum(p.payload.first(16), pseudo)));
    EXPECT_TRUE(TransportChecksumValid(p));
    EXPECT_EQ(p.tcp.seq, next_seq);
    next_seq += static_cast<uint32_t>(p.tcp.payload.size());
    EXPECT_EQ(p.tcp.ack, sp.tcp.ack);
    EXPECT_EQ(p.tcp.src_port, sp.tcp.src_port);
    EXPECT_EQ(p.tcp.dst_port, sp.tcp.dst_port);
    EXPECT_EQ(Get16(p.tcp.header, 14), Get16(sp.tcp.header, 14));  // window
    EXPECT_EQ(Get16(p.tcp.header, 18), Get16(sp.tcp.header, 18));  // urgent pointer
    EXPECT_TRUE(std::ranges::equal(p.tcp.options, sp.tcp.options));
    // Flags: FIN and PSH only on the last, CWR only on the first, the rest everywhere.
    uint8_t want = sp.tcp.flags;
    if (i != 0) want &= static_cast<uint8_t>(~kCwr);
    if (!last) want &= static_cast<uint8_t>(~(tcp_flag::kFin | tcp_flag::kPsh));
    EXPECT_EQ(p.tcp.flags, want);
    joined.insert(joined.end(), p.tcp.payload.begin(), p.tcp.payload.end());
  }
  EXPECT_EQ(joined, s.data);
}

TEST(VnetSegments, ConstantsMatchTheRuntimesTun) {
  EXPECT_EQ(kVnetHdrSize, runtime::kVnetHdrSize);
  EXPECT_EQ(kVnetFlagNeedsCsum, runtime::kVnetHdrFlagNeedsCsum);
  EXPECT_EQ(kVnetGsoNone, runtime::kVnetHdrGsoNone);
  EXPECT_EQ(kVnetGsoTcpv4, runtime::kVnetHdrGsoTcpv4);
}

TEST(VnetSegments, HeaderIsInHostOrder) {
  const VnetHeader h{.flags = 1, .gso_type = 0x81, .hdr_len = 0x0102, .gso_size = 1368, .csum_start = 20,
                     .csum_offset = 16};
  std::vector<uint8_t> b(kVnetHdrSize);
  EncodeVnetHeader(h, b);
  const VnetHeader back = DecodeVnetHeader(b);
  EXPECT_EQ(back.flags, 1);
  EXPECT_EQ(back.gso_type, 0x81);
  EXPECT_EQ(back.hdr_len, 0x0102);
  EXPECT_EQ(back.gso_size, 1368);
  EXPECT_EQ(back.csum_start, 20);
  EXPECT_EQ(back.csum_offset, 16);
  EXPECT_TRUE(back.gso() && back.needs_csum());
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(b, (std::vector<uint8_t>{0x01, 0x81, 0x02, 0x01, 0x58, 0x05, 0x14, 0x00, 0x10, 0x00}));
  }
}

TEST(VnetSegments, Splits64KiBSuperSegment) {
  // The largest super-segment: 65,535 bytes of IPv4 packet, 20 + 32 bytes of headers, 65,483 bytes of data:
  // 47 segments of 1,368 and a last of 1,187 (odd). ECN: the first carries CWR, ECE stays on all.
  const uint16_t gso = 1368;
  const auto s = MakeSuperSegment(65535 - 52, gso, tcp_flag::kAck | tcp_flag::kPsh | kCwr | kEce, {},
                                  kVnetGsoTcpv4 | kVnetGsoEcn);
  ASSERT_EQ(s.packet.size(), 65535u);
  std::vector<uint8_t> read = s.read;
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok) << VnetDropName(r.drop);
  EXPECT_EQ(r.kind, VnetKind::kGsoTcpv4);
  EXPECT_EQ(r.gso.segments, 48);
  EXPECT_EQ(GsoSegmentSize(r.gso, 0), 1420u);
  EXPECT_EQ(GsoSegmentSize(r.gso, 47), 52u + 1187u);
  ExpectSegmentsValid(s, SplitAll(r.gso), gso);
  EXPECT_EQ(read, s.read);  // the read is only read
}

TEST(VnetSegments, FinAndPshOnlyOnTheLastWithIpOptions) {
  const uint16_t gso = 1000;
  // IP options (a router alert, 4 bytes) are copied into every segment; the segments stay within the MTU.
  const auto s = MakeSuperSegment(4321, gso, tcp_flag::kAck | tcp_flag::kPsh | tcp_flag::kFin, {0x94, 0x04, 0, 0});
  std::vector<uint8_t> read = s.read;
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok) << VnetDropName(r.drop);
  ExpectSegmentsValid(s, SplitAll(r.gso), gso);
}

TEST(VnetSegments, IdAndSequenceWrap) {
  auto s = MakeSuperSegment(3000, 1000, tcp_flag::kAck);
  std::span<uint8_t> packet = std::span<uint8_t>(s.read).subspan(kVnetHdrSize);
  testing::Put16(packet, 4, 0xFFFF);
  testing::Put16(packet, 10, 0);
  testing::Put16(packet, 10, testing::NaiveChecksum(packet.first(20)));
  testing::Put32(packet, 24, 0xFFFFFC00);  // 1,024 before the wrap: the second segment crosses it
  s.packet.assign(packet.begin(), packet.end());
  const VnetRead r = ParseVnetRead(s.read, kMtu);
  ASSERT_TRUE(r.ok) << VnetDropName(r.drop);
  const auto segments = SplitAll(r.gso);
  ExpectSegmentsValid(s, segments, 1000);
  EXPECT_EQ(Get16(segments[1], 4), 0x0000);
  EXPECT_EQ(Get32(segments[2], 24), 0x000003D0u);
}

TEST(VnetSegments, OneSegmentWhenTheDataFitsGsoSize) {
  const auto s = MakeSuperSegment(500, 1368, tcp_flag::kAck | tcp_flag::kPsh);
  std::vector<uint8_t> read = s.read;
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.gso.segments, 1);
  ExpectSegmentsValid(s, SplitAll(r.gso), 1368);
}

// Segment 0 written into the read itself (the device that read the TUN into a frame seals it there), after the
// others: the same bytes as segment 0 written elsewhere, and the others unaffected.
TEST(VnetSegments, SegmentZeroInPlace) {
  const auto s = MakeSuperSegment(5000, 1368, tcp_flag::kAck | tcp_flag::kPsh);
  std::vector<uint8_t> read = s.read;
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok);
  const auto elsewhere = SplitAll(r.gso);
  const std::span<uint8_t> in_place = WriteGsoSegment(r.gso, 0, r.packet);
  ASSERT_EQ(in_place.data(), r.packet.data());
  EXPECT_TRUE(std::ranges::equal(in_place, elsewhere[0]));
  // What follows segment 0 in the read is still the super-segment's data: the later segments come out the same.
  std::vector<uint8_t> room(1500);
  for (size_t i = 1; i < r.gso.segments; ++i) {
    EXPECT_TRUE(std::ranges::equal(WriteGsoSegment(r.gso, i, room), elsewhere[i])) << i;
  }
}

TEST(VnetSegments, RoomTooSmallWritesNothingAndStopsTheSplit) {
  const auto s = MakeSuperSegment(5000, 1368, tcp_flag::kAck);
  std::vector<uint8_t> read = s.read;
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok);
  std::vector<uint8_t> room(GsoSegmentSize(r.gso, 0) - 1, 0xA5);
  EXPECT_TRUE(WriteGsoSegment(r.gso, 0, room).empty());
  EXPECT_TRUE(std::ranges::all_of(room, [](uint8_t b) { return b == 0xA5; }));

  std::vector<uint8_t> big(1500);
  size_t done = 0;
  const size_t n = SplitGso(
      r.gso, [&](size_t i, size_t) { return i < 2 ? std::span<uint8_t>(big) : std::span<uint8_t>(room).first(10); },
      [&](size_t, std::span<uint8_t>) { ++done; });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(done, 2u);
}

// Known answer, computed by hand (the IPv4 header sum of segment 0, below) and by an independent Python RFC 1071
// reference: 10.0.0.2:4096 -> 10.0.0.1:80, seq 0x100, ack 0x200, ACK|PSH, data "abcde", gso_size 3.
//   IPv4 of segment 0: 4500 + 002b + 0001 + 4000 + 4006 + 0a00 + 0002 + 0a00 + 0001 = d935, ~ = 26ca.
//   TCP of segment 0: pseudo 0a00 + 0002 + 0a00 + 0001 + 0006 + 0017 = 1420; header and data 1000 + 0050 + 0100 +
//   0200 + 5010 + 1000 + 6162 + 6300 = 137c2 -> 37c3; 37c3 + 1420 = 4be3, ~ = b41c.
TEST(VnetSegments, KnownAnswerTinySplit) {
  std::vector<uint8_t> packet =
      Hex("4500002d00014000400626c80a000002 0a000001100000500000010000000200 501810004eae00006162636465");
  ASSERT_TRUE(ParseIpv4(packet).ok);
  const VnetHeader h{.flags = 0, .gso_type = kVnetGsoTcpv4, .hdr_len = 40, .gso_size = 3};
  std::vector<uint8_t> read = WithHeader(h, packet);
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok) << VnetDropName(r.drop);
  const auto segments = SplitAll(r.gso);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0], Hex("4500002b00014000400626ca0a000002 0a000001100000500000010000000200 50101000b41c0000616263"));
  EXPECT_EQ(segments[1], Hex("4500002a00024000400626ca0a000002 0a000001100000500000010300000200 5018100014100000 6465"));
}

// NEEDS_CSUM: the field holds the pseudo-header's sum; completing it gives what a from-scratch computation gives.
std::vector<uint8_t> Partial(const std::vector<uint8_t>& whole, size_t field) {
  std::vector<uint8_t> p = whole;
  const ParsedIpv4 r = ParseIpv4(p);
  testing::Put16(p, field, testing::NaivePseudoSum(r.packet.src, r.packet.dst, r.packet.protocol,
                                                   r.packet.payload.size()));
  return p;
}

TEST(VnetSegments, CompletesTcpAndUdpChecksums) {
  PacketSpec tcp;
  tcp.l4 = testing::Tcp(tcp_flag::kAck | tcp_flag::kPsh, kTimestamps, std::vector<uint8_t>(1001, 0x5A));
  PacketSpec udp;
  udp.protocol = protocol::kUdp;
  udp.l4 = testing::Udp(std::vector<uint8_t>(333, 0xC3));
  for (const auto& [spec, offset] : {std::pair{tcp, uint16_t{16}}, std::pair{udp, uint16_t{6}}}) {
    const auto whole = Build(spec);
    const auto partial = Partial(whole, 20 + offset);
    ASSERT_NE(partial, whole);
    std::vector<uint8_t> read = WithHeader({.flags = kVnetFlagNeedsCsum, .csum_start = 20, .csum_offset = offset},
                                           partial);
    const VnetRead r = ParseVnetRead(read, kMtu);
    ASSERT_TRUE(r.ok) << VnetDropName(r.drop);
    EXPECT_EQ(r.kind, VnetKind::kNeedsChecksum);
    CompleteChecksum(r);
    EXPECT_TRUE(std::ranges::equal(r.packet, whole));
    // Only the two bytes of the field changed.
    for (size_t i = 0; i < partial.size(); ++i) {
      if (i != 20u + offset && i != 21u + offset) {
        EXPECT_EQ(read[kVnetHdrSize + i], partial[i]) << i;
      }
    }
  }
}

// A sum whose checksum comes out 0 is stored as 0xFFFF (UDP must not send 0, "no checksum"; TCP verifies either).
TEST(VnetSegments, CompletedZeroIsStoredAsFfff) {
  PacketSpec spec;
  spec.protocol = protocol::kUdp;
  spec.fill_l4_checksum = false;
  spec.l4 = testing::Udp(std::vector<uint8_t>(64, 0x11));
  auto p = Build(spec);
  // Make the segment's sum 0xFFFF: add its current checksum into a data word (one's-complement addition).
  const ParsedIpv4 first = ParseIpv4(p);
  const uint16_t c = testing::NaiveChecksum(first.packet.payload, testing::NaivePseudoSum(
                                                                       spec.src, spec.dst, 17, first.packet.payload.size()));
  uint32_t w = uint32_t{Get16(p, 28)} + c;
  w = (w & 0xFFFF) + (w >> 16);
  testing::Put16(p, 28, static_cast<uint16_t>(w));
  const ParsedIpv4 again = ParseIpv4(p);
  ASSERT_EQ(testing::NaiveChecksum(again.packet.payload,
                                   testing::NaivePseudoSum(spec.src, spec.dst, 17, again.packet.payload.size())),
            0);
  const auto partial = Partial(p, 26);
  std::vector<uint8_t> read = WithHeader({.flags = kVnetFlagNeedsCsum, .csum_start = 20, .csum_offset = 6}, partial);
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_TRUE(r.ok);
  CompleteChecksum(r);
  EXPECT_EQ(Get16(r.packet, 26), 0xFFFF);
  EXPECT_TRUE(TransportChecksumValid(ParseIpv4(r.packet).packet));
}

TEST(VnetSegments, CompletePacketsAreLeftAloneAndPaddingIsCut) {
  auto syn = Hex(testing::kSynHex);
  const size_t size = syn.size();
  syn.insert(syn.end(), {0, 0, 0, 0});  // link padding after total_length
  for (uint8_t flags : {uint8_t{0}, kVnetFlagDataValid}) {
    std::vector<uint8_t> read = WithHeader({.flags = flags}, syn);
    const std::vector<uint8_t> before = read;
    const VnetRead r = ParseVnetRead(read, kMtu);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.kind, VnetKind::kComplete);
    EXPECT_EQ(r.packet.size(), size);
    EXPECT_EQ(r.packet.data(), read.data() + kVnetHdrSize);
    EXPECT_EQ(r.ip.transport, Transport::kTcp);
    CompleteChecksum(r);  // nothing to do
    EXPECT_EQ(read, before);
  }
}

TEST(VnetSegments, DropNamesAreDistinct) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kVnetDropCount; ++i) {
    const auto name = VnetDropName(static_cast<VnetDrop>(i));
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kVnetDropCount);
}

struct Malformed {
  const char* what;
  VnetDrop drop;
  std::vector<uint8_t> read;
  size_t max_packet = kMtu;
};

std::vector<Malformed> MalformedReads() {
  const auto s = MakeSuperSegment(5000, 1368, tcp_flag::kAck);
  const VnetHeader gso = DecodeVnetHeader(s.read);
  const auto& gso_packet = s.packet;
  const auto syn = Hex(testing::kSynHex);
  const VnetHeader csum{.flags = kVnetFlagNeedsCsum, .csum_start = 20, .csum_offset = 16};
  auto with = [](VnetHeader h, auto change, std::span<const uint8_t> packet) {
    change(h);
    return WithHeader(h, packet);
  };
  PacketSpec udp_spec;
  udp_spec.protocol = protocol::kUdp;
  udp_spec.l4 = testing::Udp(std::vector<uint8_t>(3000, 1));
  const auto udp = Build(udp_spec);
  PacketSpec fragment_spec;
  fragment_spec.flags_offset = kIpv4FlagMoreFragments;
  fragment_spec.l4 = testing::Tcp(tcp_flag::kAck, {}, std::vector<uint8_t>(3000, 2));
  const auto fragment = Build(fragment_spec);
  auto tcp_with_flags = [](uint8_t flags) {
    PacketSpec spec;
    spec.l4 = testing::Tcp(flags, {}, std::vector<uint8_t>(3000, 3));
    return Build(spec);
  };
  PacketSpec ack_spec;
  ack_spec.l4 = testing::Tcp(tcp_flag::kAck);
  const auto pure_ack = Build(ack_spec);
  auto six = syn;
  six[0] = 0x65;

  std::vector<Malformed> m;
  m.push_back({"9 bytes", VnetDrop::kTooShort, std::vector<uint8_t>(9)});
  m.push_back({"flag 4 (RSC_INFO)", VnetDrop::kBadFlags, with(gso, [](VnetHeader& h) { h.flags |= 4; }, gso_packet)});
  m.push_back({"GSO_UDP", VnetDrop::kBadGsoType, with(gso, [](VnetHeader& h) { h.gso_type = 3; }, gso_packet)});
  m.push_back({"GSO_TCPV6", VnetDrop::kBadGsoType, with(gso, [](VnetHeader& h) { h.gso_type = 4; }, gso_packet)});
  m.push_back({"GSO_UDP_L4", VnetDrop::kBadGsoType, with(gso, [](VnetHeader& h) { h.gso_type = 5; }, gso_packet)});
  m.push_back({"ECN without TCPV4", VnetDrop::kBadGsoType, WithHeader({.gso_type = kVnetGsoEcn}, syn)});
  m.push_back({"IPv6 version", VnetDrop::kBadIpv4, WithHeader({}, six)});
  m.push_back({"header alone", VnetDrop::kBadIpv4, WithHeader({}, {})});
  m.push_back({"hdr_len beyond", VnetDrop::kBadHdrLen,
               with(gso, [&](VnetHeader& h) { h.hdr_len = static_cast<uint16_t>(gso_packet.size() + 1); },
                    gso_packet)});
  m.push_back({"csum_start in the IP header", VnetDrop::kBadCsumRequest,
               with(csum, [](VnetHeader& h) { h.csum_start = 19; h.csum_offset = 18; }, syn)});
  m.push_back({"csum field past the end", VnetDrop::kBadCsumRequest,
               with(csum, [&](VnetHeader& h) { h.csum_offset = static_cast<uint16_t>(syn.size() - 20); }, syn)});
  m.push_back({"csum_start 65535", VnetDrop::kBadCsumRequest,
               with(csum, [](VnetHeader& h) { h.csum_start = 0xFFFF; h.csum_offset = 0xFFFE; }, syn)});
  m.push_back({"odd csum_offset", VnetDrop::kBadCsumRequest,
               with(csum, [](VnetHeader& h) { h.csum_offset = 15; }, syn)});
  m.push_back({"csum on a fragment", VnetDrop::kBadCsumRequest, WithHeader(csum, fragment)});
  m.push_back({"GSO on UDP", VnetDrop::kGsoNotTcp, WithHeader(gso, udp)});
  m.push_back({"GSO on a first fragment", VnetDrop::kGsoNotTcp,
               with(gso, [](VnetHeader& h) { h.flags = 0; }, fragment)});
  m.push_back({"GSO with SYN", VnetDrop::kGsoBadTcpFlags, WithHeader(gso, tcp_with_flags(tcp_flag::kSyn))});
  m.push_back({"GSO with RST", VnetDrop::kGsoBadTcpFlags,
               WithHeader(gso, tcp_with_flags(tcp_flag::kRst | tcp_flag::kAck))});
  m.push_back({"gso_size 0", VnetDrop::kBadGsoSize, with(gso, [](VnetHeader& h) { h.gso_size = 0; }, gso_packet)});
  m.push_back({"GSO without data", VnetDrop::kBadGsoSize, with(gso, [](VnetHeader& h) { h.hdr_len = 40; }, pure_ack)});
  m.push_back({"132 segments", VnetDrop::kGsoTooManySegments,
               with(gso, [](VnetHeader& h) { h.gso_size = 38; }, gso_packet)});
  m.push_back({"segments above the MTU", VnetDrop::kGsoSegmentAboveMtu, s.read, 1419});
  return m;
}

TEST(VnetSegments, RejectsMalformedReads) {
  for (Malformed& m : MalformedReads()) {
    SCOPED_TRACE(m.what);
    const std::vector<uint8_t> before = m.read;
    const VnetRead r = ParseVnetRead(m.read, m.max_packet);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(VnetDropName(r.drop), VnetDropName(m.drop));
    EXPECT_EQ(m.read, before);
  }
}

TEST(VnetSegments, BadIpv4NamesTheIpReason) {
  auto syn = Hex(testing::kSynHex);
  syn[11] ^= 1;
  std::vector<uint8_t> read = WithHeader({}, syn);
  const VnetRead r = ParseVnetRead(read, kMtu);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.drop, VnetDrop::kBadIpv4);
  EXPECT_EQ(r.ip_drop, DropReason::kBadHeaderChecksum);
}

TEST(VnetSegments, SegmentBoundIsExact) {
  // 128 segments pass, 129 do not.
  auto s = MakeSuperSegment(128 * 100, 100, tcp_flag::kAck);
  const VnetRead r = ParseVnetRead(s.read, kMtu);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.gso.segments, kMaxGsoSegments);
  auto t = MakeSuperSegment(128 * 100 + 1, 100, tcp_flag::kAck);
  EXPECT_EQ(ParseVnetRead(t.read, kMtu).drop, VnetDrop::kGsoTooManySegments);
}

}  // namespace
}  // namespace strait::ip
