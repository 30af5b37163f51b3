#include "tunnel/ip/mss_clamp.h"

#include <random>
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

// The TCP checksum a full recomputation gives for `p` (its checksum field taken as 0), by the naive reference.
uint16_t RecomputedTcpChecksum(std::vector<uint8_t> p) {
  const size_t hl = (p[0] & 0x0F) * 4u;
  std::span<uint8_t> tcp = std::span<uint8_t>(p).subspan(hl);
  testing::Put16(tcp, 16, 0);
  const uint32_t src = (uint32_t{testing::Get16(p, 12)} << 16) | testing::Get16(p, 14);
  const uint32_t dst = (uint32_t{testing::Get16(p, 16)} << 16) | testing::Get16(p, 18);
  return testing::NaiveChecksum(tcp, testing::NaivePseudoSum(src, dst, 6, tcp.size()));
}

uint16_t TcpChecksumOf(const std::vector<uint8_t>& p) { return testing::Get16(p, (p[0] & 0x0F) * 4u + 16); }

std::vector<uint8_t> Syn(std::vector<uint8_t> options, uint8_t flags = tcp_flag::kSyn, std::vector<uint8_t> data = {}) {
  PacketSpec s;
  s.l4 = testing::Tcp(flags, std::move(options), std::move(data));
  return Build(s);
}

TEST(MssClamp, ClampsTheKnownSyn) {
  auto p = Hex(testing::kSynHex);
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kClamped);
  EXPECT_EQ(testing::Get16(p, 42), 1380);  // MSS value: IP 20 + TCP 20 + kind, length
  EXPECT_EQ(TcpChecksumOf(p), testing::kSynTcpChecksumMss1380);  // the reference's full recomputation
  EXPECT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p));
  const ParsedIpv4 r = ParseIpv4(p);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(TransportChecksumValid(r.packet));
  // Only the MSS value and the checksum changed.
  auto original = Hex(testing::kSynHex);
  for (size_t i = 0; i < p.size(); ++i) {
    if (i == 36 || i == 37 || i == 42 || i == 43) continue;
    EXPECT_EQ(p[i], original[i]) << i;
  }
}

TEST(MssClamp, ClampsSynAck) {
  auto p = Syn({2, 4, 0x23, 0x28}, tcp_flag::kSyn | tcp_flag::kAck);  // MSS 9000
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kClamped);
  EXPECT_EQ(testing::Get16(p, 42), 1380);
  EXPECT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p));
}

TEST(MssClamp, MssAtAnOddOffsetUpdatesTheChecksumCorrectly) {
  // NOP, MSS 1460, NOP, NOP, NOP: the value sits at TCP offset 23, straddling two checksum words.
  auto p = Syn({1, 2, 4, 0x05, 0xB4, 1, 1, 1});
  EXPECT_EQ(ClampMss(p, 1200), ClampResult::kClamped);
  EXPECT_EQ(testing::Get16(p, 43), 1200);
  EXPECT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p));
}

TEST(MssClamp, ClampsEveryMssOption) {
  auto p = Syn({2, 4, 0x05, 0xB4, 1, 2, 4, 0x23, 0x28, 1, 1, 1});
  EXPECT_EQ(ClampMss(p, 1000), ClampResult::kClamped);
  EXPECT_EQ(testing::Get16(p, 42), 1000);
  EXPECT_EQ(testing::Get16(p, 47), 1000);
  EXPECT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p));
}

TEST(MssClamp, WithIpOptionsAndData) {
  PacketSpec s;
  s.options = {1, 1, 1, 0};
  s.l4 = testing::Tcp(tcp_flag::kSyn, {2, 4, 0xFF, 0xFF}, {'x', 'y', 'z'});  // SYN with data (TFO-style)
  auto p = Build(s);
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kClamped);
  EXPECT_EQ(testing::Get16(p, 46), 1380);
  EXPECT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p));
}

TEST(MssClamp, AtOrBelowTheLimitIsUntouched) {
  for (uint16_t mss : {uint16_t{1380}, uint16_t{536}}) {
    auto p = Syn({2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
    const auto before = p;
    EXPECT_EQ(ClampMss(p, 1380), ClampResult::kWithinLimit);
    EXPECT_EQ(p, before);
  }
}

TEST(MssClamp, SynWithoutMssIsLeftAlone) {
  auto p = Syn({1, 1, 4, 2, 1, 3, 3, 7});  // NOP NOP SACK-permitted NOP wscale
  const auto before = p;
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kNoMssOption);
  EXPECT_EQ(p, before);
  auto bare = Syn({});
  EXPECT_EQ(ClampMss(bare, 1380), ClampResult::kNoMssOption);
}

TEST(MssClamp, EndOfListStopsTheWalk) {
  // EOL, then what would be an MSS option: padding, not an option.
  auto p = Syn({0, 2, 4, 0x23, 0x28, 0, 0, 0});
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kNoMssOption);
  // Garbage after EOL is padding too, never malformed.
  auto q = Syn({2, 4, 0x23, 0x28, 0, 0xFF, 0xFF, 0xFF});
  EXPECT_EQ(ClampMss(q, 1380), ClampResult::kClamped);
}

TEST(MssClamp, NotSynNotTcpNotParsedAreUntouched) {
  auto ack = Syn({2, 4, 0x23, 0x28}, tcp_flag::kAck);
  const auto ack_before = ack;
  EXPECT_EQ(ClampMss(ack, 1380), ClampResult::kNotSyn);
  EXPECT_EQ(ack, ack_before);

  auto udp = Hex(testing::kUdpHex);
  EXPECT_EQ(ClampMss(udp, 1380), ClampResult::kNotTcp);
  auto echo = Hex(testing::kEchoHex);
  EXPECT_EQ(ClampMss(echo, 1380), ClampResult::kNotTcp);

  PacketSpec frag;
  frag.flags_offset = 0x2000 | 100;  // a TCP fragment that is not the first
  frag.l4 = std::vector<uint8_t>(40, 0x02);
  auto f = Build(frag);
  EXPECT_EQ(ClampMss(f, 1380), ClampResult::kNotTcp);

  auto bad = Hex(testing::kSynHex);
  bad[8] ^= 1;  // TTL changed without fixing the header checksum
  const auto bad_before = bad;
  EXPECT_EQ(ClampMss(bad, 1380), ClampResult::kNotParsed);
  EXPECT_EQ(bad, bad_before);
  std::vector<uint8_t> empty;
  EXPECT_EQ(ClampMss(empty, 1380), ClampResult::kNotParsed);
}

TEST(MssClamp, MalformedOptionsLeaveThePacketUntouched) {
  const std::vector<std::vector<uint8_t>> cases = {
      {2, 4, 0x23, 0x28, 8, 0, 0, 0},      // length 0 after a good MSS
      {1, 1, 1, 8, 1, 0, 0, 0},            // length 1
      {2, 4, 0x23, 0x28, 1, 1, 1, 5},      // kind 5 without its length byte
      {2, 4, 0x23, 0x28, 5, 10, 0, 0},     // length 10 runs past the header
      {2, 3, 0x23, 1},                     // MSS with length 3
      {2, 6, 0x23, 0x28, 0, 0, 1, 1},      // MSS with length 6
  };
  for (const auto& options : cases) {
    auto p = Syn(options);
    const auto before = p;
    EXPECT_EQ(ClampMss(p, 1380), ClampResult::kMalformedOptions) << ::testing::PrintToString(options);
    EXPECT_EQ(p, before);
  }
}

TEST(MssClamp, AKnownBadChecksumStaysBad) {
  // A SYN whose TCP checksum was wrong before clamping is still wrong after: the update is incremental, never a
  // recomputation that would bless a corrupted segment.
  auto p = Hex(testing::kSynHex);
  p[39] ^= 0x01;  // TCP byte 19, the urgent pointer, without fixing the checksum
  EXPECT_EQ(ClampMss(p, 1380), ClampResult::kClamped);
  const ParsedIpv4 r = ParseIpv4(p);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(TransportChecksumValid(r.packet));
}

// Random SYNs: random option lists of NOPs, MSS options at every alignment, other options, random MSS values and
// limits, random payloads; after a clamp the checksum equals a full recomputation.
TEST(MssClamp, RandomSynsMatchFullRecomputation) {
  std::mt19937 rng(1624);
  int clamped = 0;
  for (int round = 0; round < 5000; ++round) {
    std::vector<uint8_t> options;
    while (options.size() < 36) {
      const uint32_t pick = rng() % 4;
      if (pick == 0) {
        options.push_back(1);
      } else if (pick == 1) {
        options.insert(options.end(), {2, 4, static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
      } else if (pick == 2) {
        options.insert(options.end(), {4, 2});
      } else {
        break;
      }
    }
    while (options.size() % 4 != 0) options.push_back(1);
    std::vector<uint8_t> data(rng() % 64);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    auto p = Syn(options, (rng() & 1) ? tcp_flag::kSyn : (tcp_flag::kSyn | tcp_flag::kAck), data);
    const uint16_t limit = static_cast<uint16_t>(rng());
    const ClampResult r = ClampMss(p, limit);
    ASSERT_NE(r, ClampResult::kMalformedOptions);
    ASSERT_EQ(TcpChecksumOf(p), RecomputedTcpChecksum(p)) << round;
    if (r == ClampResult::kClamped) ++clamped;
  }
  EXPECT_GT(clamped, 1000);
}

TEST(MssClamp, ResultNamesAreStableAndDistinct) {
  const std::vector<std::string_view> expected = {"clamped", "within_limit", "no_mss_option", "not_syn",
                                                  "not_tcp", "not_parsed",   "malformed_options"};
  ASSERT_EQ(expected.size(), kClampResultCount);
  std::set<std::string_view> seen;
  for (size_t i = 0; i < kClampResultCount; ++i) {
    EXPECT_EQ(ClampResultName(static_cast<ClampResult>(i)), expected[i]);
    EXPECT_TRUE(seen.insert(expected[i]).second);
  }
}

}  // namespace
}  // namespace strait::ip
