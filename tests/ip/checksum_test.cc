#include "tunnel/ip/checksum.h"

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ip/packet_builder.h"

namespace strait::ip {
namespace {

using testing::Hex;
using testing::NaiveChecksum;
using testing::NaiveSum;

TEST(Checksum, Rfc1071WorkedExample) {
  // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  const std::array<uint8_t, 8> b = {0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7};
  EXPECT_EQ(OnesComplementSum(b), 0xDDF2);
  EXPECT_EQ(InternetChecksum(b), 0x220D);
  EXPECT_EQ(NaiveSum(b), 0xDDF2);  // the reference agrees with the RFC too
}

TEST(Checksum, EmptyAndOddLengths) {
  EXPECT_EQ(OnesComplementSum({}), 0);
  EXPECT_EQ(InternetChecksum({}), 0xFFFF);
  const std::array<uint8_t, 1> one = {0xAB};
  EXPECT_EQ(OnesComplementSum(one), 0xAB00);  // an odd byte is the high byte of a zero-padded word
  const std::array<uint8_t, 3> three = {0x01, 0x02, 0x03};
  EXPECT_EQ(OnesComplementSum(three), 0x0102 + 0x0300);
}

TEST(Checksum, CarriesWrapAround) {
  const std::vector<uint8_t> ones(64, 0xFF);
  EXPECT_EQ(OnesComplementSum(ones), 0xFFFF);
  const std::array<uint8_t, 4> b = {0xFF, 0xFF, 0x00, 0x01};  // 0xFFFF + 1 = 0x10000 -> 0x0001
  EXPECT_EQ(OnesComplementSum(b), 0x0001);
}

TEST(Checksum, InitialValueContinuesTheSum) {
  const auto b = Hex("0001f203f4f5f6f7");
  const uint16_t first = OnesComplementSum(std::span<const uint8_t>(b).first(4));
  EXPECT_EQ(OnesComplementSum(std::span<const uint8_t>(b).subspan(4), first), 0xDDF2);
  EXPECT_EQ(OnesComplementSum({}, 0x1234), 0x1234);
  EXPECT_EQ(OnesComplementSum({}, 0x12345), 0x2346);  // a 32-bit initial is folded first
}

TEST(Checksum, Ipv4HeaderKnownAnswer) {
  // The textbook header (Wikipedia's "IPv4 header checksum" example): checksum b861.
  auto h = Hex("45000073000040004011 0000 c0a80001c0a800c7");
  EXPECT_EQ(InternetChecksum(h), 0xB861);
  h[10] = 0xB8;
  h[11] = 0x61;
  EXPECT_EQ(InternetChecksum(h), 0);
  EXPECT_EQ(OnesComplementSum(h), 0xFFFF);
}

TEST(Checksum, KnownPacketsFromAnIndependentReference) {
  struct Case {
    std::string_view hex;
    uint8_t protocol;
    uint16_t ip_checksum;
    uint16_t l4_checksum;
    size_t l4_checksum_offset;
  };
  const Case cases[] = {
      {testing::kSynHex, 6, testing::kSynIpChecksum, testing::kSynTcpChecksum, 16},
      {testing::kUdpHex, 17, testing::kUdpIpChecksum, testing::kUdpChecksum, 6},
      {testing::kEchoHex, 1, testing::kEchoIpChecksum, testing::kEchoIcmpChecksum, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    auto p = Hex(c.hex);
    std::span<uint8_t> header = std::span<uint8_t>(p).first(20);
    std::span<uint8_t> l4 = std::span<uint8_t>(p).subspan(20);
    const uint32_t src = (uint32_t{p[12]} << 24) | (uint32_t{p[13]} << 16) | (uint32_t{p[14]} << 8) | p[15];
    const uint32_t dst = (uint32_t{p[16]} << 24) | (uint32_t{p[17]} << 16) | (uint32_t{p[18]} << 8) | p[19];
    // As received: everything verifies.
    EXPECT_EQ(InternetChecksum(header), 0);
    if (c.protocol == 1) {
      EXPECT_EQ(InternetChecksum(l4), 0);
    } else {
      EXPECT_EQ(TransportChecksum(src, dst, c.protocol, l4), 0);
    }
    // With the fields zeroed, the checksums come out as the reference computed them.
    testing::Put16(header, 10, 0);
    EXPECT_EQ(InternetChecksum(header), c.ip_checksum);
    testing::Put16(l4, c.l4_checksum_offset, 0);
    if (c.protocol == 1) {
      EXPECT_EQ(InternetChecksum(l4), c.l4_checksum);
    } else {
      EXPECT_EQ(TransportChecksum(src, dst, c.protocol, l4), c.l4_checksum);
    }
  }
}

TEST(Checksum, PseudoHeaderSumMatchesTheBytes) {
  const uint32_t src = 0xC0A80001, dst = 0x08080808;
  EXPECT_EQ(PseudoHeaderSum(src, dst, 17, 1234), testing::NaivePseudoSum(src, dst, 17, 1234));
  EXPECT_EQ(PseudoHeaderSum(0xFFFFFFFF, 0xFFFFFFFF, 6, 0xFFFF),
            testing::NaivePseudoSum(0xFFFFFFFF, 0xFFFFFFFF, 6, 0xFFFF));
  EXPECT_EQ(PseudoHeaderSum(0, 0, 0, 0), 0);
}

// The fast sum against the word-by-word reference: random bytes of every length 0..2000, from every alignment
// 0..7 in the buffer, with random initial values.
TEST(Checksum, FastSumMatchesNaiveOnEveryLengthAndAlignment) {
  std::mt19937 rng(20240901);
  std::vector<uint8_t> buf(2000 + 8);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t len = 0; len <= 2000; ++len) {
    for (size_t align = 0; align < 8; ++align) {
      const std::span<const uint8_t> s(buf.data() + align, len);
      const uint32_t initial = (len % 3 == 0) ? 0 : static_cast<uint32_t>(rng());
      ASSERT_EQ(OnesComplementSum(s, initial), NaiveSum(s, initial)) << "len " << len << " align " << align;
    }
  }
}

TEST(Checksum, FastSumMatchesNaiveOnAdversarialBytes) {
  // All 0xFF (every addition carries) and all 0x00 at the largest IPv4 packet size.
  for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x80}}) {
    const std::vector<uint8_t> b(65535, fill);
    EXPECT_EQ(OnesComplementSum(b), NaiveSum(b)) << int{fill};
  }
}

// RFC 1624 §4's example: HC = 0xDD2F, a field changes 0x5555 -> 0x3285; eqn. 3 gives 0x0000, which the full
// recomputation also gives (RFC 1141's form would give 0xFFFF).
TEST(Checksum, IncrementalUpdateRfc1624Example) { EXPECT_EQ(UpdateChecksum16(0xDD2F, 0x5555, 0x3285), 0x0000); }

TEST(Checksum, IncrementalUpdateMatchesFullRecomputation) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> b(2 + rng() % 200 * 2);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const size_t word = (rng() % (b.size() / 2)) * 2;
    const uint16_t before = NaiveChecksum(b);
    const uint16_t old_value = testing::Get16(b, word);
    const uint16_t new_value = round % 10 == 0 ? 0 : static_cast<uint16_t>(rng());
    testing::Put16(b, word, new_value);
    if (NaiveSum(b) == 0) continue;  // all zeros: the one edge where the two zeros differ (below)
    ASSERT_EQ(UpdateChecksum16(before, old_value, new_value), NaiveChecksum(b)) << round;
  }
}

TEST(Checksum, IncrementalUpdateToAllZeroDataGivesTheOtherZero) {
  // Only data that becomes all zeros (no TCP, UDP or IP header can: each sums a non-zero protocol or version) gets
  // 0x0000 from eqn. 3 where a full recomputation gives 0xFFFF; both verify.
  const std::array<uint8_t, 2> zero = {0, 0};
  EXPECT_EQ(NaiveChecksum(zero), 0xFFFF);
  EXPECT_EQ(UpdateChecksum16(static_cast<uint16_t>(~0x1234), 0x1234, 0x0000), 0x0000);
}

TEST(Checksum, IncrementalUpdate32MatchesFullRecomputation) {
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> b(4 + rng() % 100 * 4);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const size_t at = (rng() % (b.size() / 4)) * 4;
    const uint16_t before = NaiveChecksum(b);
    const uint32_t old_value = (uint32_t{testing::Get16(b, at)} << 16) | testing::Get16(b, at + 2);
    const uint32_t new_value = static_cast<uint32_t>(rng());
    testing::Put32(b, at, new_value);
    ASSERT_EQ(UpdateChecksum32(before, old_value, new_value), NaiveChecksum(b)) << round;
  }
}

TEST(Checksum, IncrementalUpdateOfAnAddressInTheKnownSyn) {
  // Rewriting the SYN's source 10.0.0.2 -> 100.64.0.7 (a NAT would): both checksums follow, since the TCP checksum
  // covers the address through the pseudo-header.
  auto p = Hex(testing::kSynHex);
  const uint32_t old_src = 0x0A000002, new_src = 0x64400007;
  testing::Put32(p, 12, new_src);
  testing::Put16(p, 10, UpdateChecksum32(testing::kSynIpChecksum, old_src, new_src));
  testing::Put16(p, 36, UpdateChecksum32(testing::kSynTcpChecksum, old_src, new_src));
  EXPECT_EQ(NaiveChecksum(std::span<const uint8_t>(p).first(20)), 0);
  const std::span<const uint8_t> tcp = std::span<const uint8_t>(p).subspan(20);
  EXPECT_EQ(NaiveChecksum(tcp, testing::NaivePseudoSum(new_src, 0x5DB8D822, 6, tcp.size())), 0);
}

TEST(Checksum, UdpZeroMeansNoneAndStaysZero) {
  EXPECT_EQ(UpdateUdpChecksum16(0, 0x1234, 0x5678), 0);
  EXPECT_EQ(UpdateUdpChecksum32(0, 0x0A000002, 0x64400007), 0);
  // A result that would be 0 is sent as 0xFFFF: RFC 1624's example again, as UDP.
  EXPECT_EQ(UpdateUdpChecksum16(0xDD2F, 0x5555, 0x3285), 0xFFFF);
  EXPECT_EQ(UpdateUdpChecksum16(0x1234, 0x0000, 0x0001), UpdateChecksum16(0x1234, 0x0000, 0x0001));
}

}  // namespace
}  // namespace strait::ip
