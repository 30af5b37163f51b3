#include "tunnel/ip/icmp_error.h"

#include <array>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ip/packet_builder.h"
#include "tunnel/ip/ipv4.h"

namespace strait::ip {
namespace {

using testing::Build;
using testing::Hex;
using testing::PacketSpec;

constexpr uint32_t kGateway = 0x64400001;  // 100.64.0.1

struct Answer {
  IcmpErrorResult result;
  std::array<uint8_t, kIcmpErrorMaxSize> buf{};
  std::span<const uint8_t> bytes() const { return std::span<const uint8_t>(buf).first(result.size); }
};

Answer Answer_(std::span<const uint8_t> packet, IcmpErrorKind kind, uint16_t mtu = 0) {
  Answer a;
  a.result = BuildIcmpError(packet, kind, kGateway, a.buf, mtu);
  return a;
}

// Checks everything an answer to `original` must be: parses, addresses, TTL, type/code, checksums (both by the
// naive reference), the quote is the original's first bytes, the size is bounded by 576.
void ExpectValidAnswer(const Answer& a, std::span<const uint8_t> original, uint8_t code, uint16_t mtu) {
  ASSERT_TRUE(a.result.answered) << IcmpNoAnswerName(a.result.reason);
  const ParsedIpv4 orig = ParseIpv4(original);
  ASSERT_TRUE(orig.ok);
  const ParsedIpv4 r = ParseIpv4(a.bytes());
  ASSERT_TRUE(r.ok) << DropReasonName(r.drop);
  const Ipv4Packet& p = r.packet;
  EXPECT_EQ(p.bytes.size(), a.result.size);
  EXPECT_LE(a.result.size, kIcmpErrorMaxSize);
  EXPECT_EQ(p.src, kGateway);
  EXPECT_EQ(p.dst, orig.packet.src);
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.tos, 0xC0);
  EXPECT_EQ(p.id, 0);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(p.is_fragment());
  EXPECT_EQ(p.header_length, 20);
  EXPECT_EQ(testing::NaiveChecksum(p.header), 0);
  ASSERT_EQ(p.transport, Transport::kIcmp);
  EXPECT_EQ(p.icmp.type, 3);
  EXPECT_EQ(p.icmp.code, code);
  EXPECT_EQ(testing::NaiveChecksum(p.payload), 0);
  EXPECT_TRUE(TransportChecksumValid(p));
  EXPECT_EQ(testing::Get16(p.icmp.rest, 0), 0);
  EXPECT_EQ(testing::Get16(p.icmp.rest, 2), mtu);
  // The quote: the original's header and as many following bytes as fit 576.
  const size_t want = std::min<size_t>(orig.packet.bytes.size(), kIcmpErrorMaxSize - 28);
  ASSERT_EQ(p.icmp.body.size(), want);
  EXPECT_TRUE(std::equal(p.icmp.body.begin(), p.icmp.body.end(), orig.packet.bytes.begin()));
  EXPECT_EQ(a.result.size, 28 + want);
}

TEST(IcmpError, FragmentationNeededCarriesTheMtu) {
  const auto syn = Hex(testing::kSynHex);
  const Answer a = Answer_(syn, IcmpErrorKind::kFragmentationNeeded, 1420);
  ExpectValidAnswer(a, syn, 4, 1420);
  EXPECT_EQ(a.result.size, 28u + 60u);  // a small packet is quoted whole
}

TEST(IcmpError, AdministrativelyProhibitedAndHostUnreachable) {
  const auto udp = Hex(testing::kUdpHex);
  ExpectValidAnswer(Answer_(udp, IcmpErrorKind::kAdministrativelyProhibited, 1420), udp, 13, 0);
  ExpectValidAnswer(Answer_(udp, IcmpErrorKind::kHostUnreachable), udp, 1, 0);
}

TEST(IcmpError, AnswersAnEchoRequest) {
  const auto echo = Hex(testing::kEchoHex);
  ExpectValidAnswer(Answer_(echo, IcmpErrorKind::kHostUnreachable), echo, 1, 0);
}

TEST(IcmpError, QuoteIsCutAt576Bytes) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  std::vector<uint8_t> data(1400);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  s.l4 = testing::Udp(data);
  const auto big = Build(s);
  const Answer a = Answer_(big, IcmpErrorKind::kFragmentationNeeded, 1280);
  ExpectValidAnswer(a, big, 4, 1280);
  EXPECT_EQ(a.result.size, 576u);
}

TEST(IcmpError, QuotesIpOptionsWholeAndNoPadding) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.options = std::vector<uint8_t>(40, 1);  // the largest header: 60 bytes
  s.l4 = testing::Udp(std::vector<uint8_t>(600, 0xAA));
  auto p = Build(s);
  ExpectValidAnswer(Answer_(p, IcmpErrorKind::kHostUnreachable), p, 1, 0);
  // Bytes beyond total_length are never quoted.
  auto small = Hex(testing::kUdpHex);
  small.insert(small.end(), 10, 0xEE);
  const Answer a = Answer_(small, IcmpErrorKind::kHostUnreachable);
  ASSERT_TRUE(a.result.answered);
  EXPECT_EQ(a.result.size, 28u + 57u);
}

TEST(IcmpError, AnswersAFirstFragment) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.flags_offset = 0x2000;
  s.l4 = testing::Udp(std::vector<uint8_t>(100, 3));
  testing::Put16(s.l4, 4, 2000);
  const auto p = Build(s);
  ExpectValidAnswer(Answer_(p, IcmpErrorKind::kFragmentationNeeded, 1400), p, 4, 1400);
}

TEST(IcmpError, BufferExactlyTheAnswerIsEnoughAndOneLessIsNot) {
  const auto syn = Hex(testing::kSynHex);
  std::vector<uint8_t> out(88, 0x5A);
  EXPECT_TRUE(BuildIcmpError(syn, IcmpErrorKind::kHostUnreachable, kGateway, out).answered);
  std::vector<uint8_t> short_out(87, 0x5A);
  const IcmpErrorResult r = BuildIcmpError(syn, IcmpErrorKind::kHostUnreachable, kGateway, short_out);
  EXPECT_FALSE(r.answered);
  EXPECT_EQ(r.reason, IcmpNoAnswer::kBufferTooSmall);
  EXPECT_EQ(short_out, std::vector<uint8_t>(87, 0x5A));  // nothing written
}

// ---- Never answered ----

IcmpNoAnswer NoAnswerFor(const std::vector<uint8_t>& packet) {
  std::array<uint8_t, kIcmpErrorMaxSize> out;
  out.fill(0x5A);
  const IcmpErrorResult r = BuildIcmpError(packet, IcmpErrorKind::kHostUnreachable, kGateway, out);
  EXPECT_FALSE(r.answered);
  EXPECT_EQ(r.size, 0u);
  for (uint8_t b : out) EXPECT_EQ(b, 0x5A);
  return r.reason;
}

TEST(IcmpError, NeverAnswersIcmpErrors) {
  for (uint8_t type : {3, 4, 5, 11, 12, 42, 255}) {
    PacketSpec s;
    s.protocol = protocol::kIcmp;
    s.l4 = testing::Icmp(type, 0, std::vector<uint8_t>(28, 0x45));
    EXPECT_EQ(NoAnswerFor(Build(s)), IcmpNoAnswer::kIcmpError) << int{type};
  }
  for (uint8_t type : {0, 8, 13, 14, 17}) {  // queries are answered
    PacketSpec s;
    s.protocol = protocol::kIcmp;
    s.l4 = testing::Icmp(type, 0);
    const auto p = Build(s);
    std::array<uint8_t, kIcmpErrorMaxSize> out{};
    EXPECT_TRUE(BuildIcmpError(p, IcmpErrorKind::kHostUnreachable, kGateway, out).answered) << int{type};
  }
}

TEST(IcmpError, NeverAnswersANonFirstFragment) {
  PacketSpec s;
  s.protocol = protocol::kUdp;
  s.flags_offset = 0x2000 | 185;
  s.l4 = std::vector<uint8_t>(100, 1);
  EXPECT_EQ(NoAnswerFor(Build(s)), IcmpNoAnswer::kNotFirstFragment);
  s.flags_offset = 185;  // the last one
  EXPECT_EQ(NoAnswerFor(Build(s)), IcmpNoAnswer::kNotFirstFragment);
  s.protocol = protocol::kIcmp;  // an ICMP non-first fragment: no header to judge, still never answered
  EXPECT_EQ(NoAnswerFor(Build(s)), IcmpNoAnswer::kNotFirstFragment);
}

TEST(IcmpError, NeverAnswersSourcesThatAreNoSingleHost) {
  struct Case {
    uint32_t src;
    IcmpNoAnswer why;
  };
  const Case cases[] = {
      {0x00000000, IcmpNoAnswer::kSourceUnspecified}, {0xFFFFFFFF, IcmpNoAnswer::kSourceBroadcast},
      {0xE0000001, IcmpNoAnswer::kSourceMulticast},   {0xEFFFFFFF, IcmpNoAnswer::kSourceMulticast},
      {0xF0000001, IcmpNoAnswer::kSourceReserved},    {0xFFFFFFFE, IcmpNoAnswer::kSourceReserved},
      {0x7F000001, IcmpNoAnswer::kSourceLoopback},    {0x7FFFFFFF, IcmpNoAnswer::kSourceLoopback},
  };
  for (const Case& c : cases) {
    PacketSpec s;
    s.src = c.src;
    s.l4 = testing::Tcp(tcp_flag::kSyn);
    EXPECT_EQ(NoAnswerFor(Build(s)), c.why) << std::hex << c.src;
  }
  // The edges that are single hosts are answered.
  for (uint32_t src : {0x00000001u, 0x7EFFFFFFu, 0x80000000u, 0xDFFFFFFFu}) {
    PacketSpec s;
    s.src = src;
    s.l4 = testing::Tcp(tcp_flag::kSyn);
    const auto p = Build(s);
    std::array<uint8_t, kIcmpErrorMaxSize> out{};
    EXPECT_TRUE(BuildIcmpError(p, IcmpErrorKind::kHostUnreachable, kGateway, out).answered) << std::hex << src;
  }
}

TEST(IcmpError, NeverAnswersPacketsToBroadcastOrMulticast) {
  for (uint32_t dst : {0xFFFFFFFFu, 0xE0000001u, 0xEFFFFFFAu}) {
    PacketSpec s;
    s.dst = dst;
    s.protocol = protocol::kUdp;
    s.l4 = testing::Udp({1});
    EXPECT_EQ(NoAnswerFor(Build(s)), IcmpNoAnswer::kDestinationNotUnicast) << std::hex << dst;
  }
}

TEST(IcmpError, NeverAnswersWhatDoesNotParse) {
  EXPECT_EQ(NoAnswerFor({}), IcmpNoAnswer::kNotParsed);
  auto bad = Hex(testing::kSynHex);
  bad[8] ^= 1;
  EXPECT_EQ(NoAnswerFor(bad), IcmpNoAnswer::kNotParsed);
  EXPECT_EQ(NoAnswerFor(std::vector<uint8_t>(20, 0)), IcmpNoAnswer::kNotParsed);
}

TEST(IcmpError, NoAnswerNamesAreStableAndDistinct) {
  const std::vector<std::string_view> expected = {
      "not_parsed",      "icmp_error",       "not_first_fragment", "source_unspecified",      "source_broadcast",
      "source_multicast", "source_reserved", "source_loopback",    "destination_not_unicast", "buffer_too_small"};
  ASSERT_EQ(expected.size(), kIcmpNoAnswerCount);
  std::set<std::string_view> seen;
  for (size_t i = 0; i < kIcmpNoAnswerCount; ++i) {
    EXPECT_EQ(IcmpNoAnswerName(static_cast<IcmpNoAnswer>(i)), expected[i]);
    EXPECT_TRUE(seen.insert(expected[i]).second);
  }
}

}  // namespace
}  // namespace strait::ip
