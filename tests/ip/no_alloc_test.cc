// The packet core runs once per packet on the forwarding path: none of it may allocate (style.md item 8).
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ip/packet_builder.h"
#include "tests/testing/alloc_counter.h"
#include "tunnel/ip/checksum.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/mss_clamp.h"
#include "tunnel/ip/vnet_segments.h"

namespace strait::ip {
namespace {

TEST(IpCore, ParseClampChecksumAndIcmpErrorNoAlloc) {
  const auto syn = testing::Hex(testing::kSynHex);
  const auto udp = testing::Hex(testing::kUdpHex);
  std::vector<uint8_t> packet = syn;
  std::array<uint8_t, kIcmpErrorMaxSize> out{};
  size_t ok = 0;

  strait::testing::AllocationCounter allocations;
  for (int i = 0; i < 100; ++i) {
    ok += ParseIpv4(syn).ok;
    ok += ParseIpv4(udp).ok;
    ok += TransportChecksumValid(ParseIpv4(udp).packet);
    ok += ClampMss(packet, static_cast<uint16_t>(1400 - i)) == ClampResult::kClamped;
    ok += BuildIcmpError(udp, IcmpErrorKind::kFragmentationNeeded, 0x64400001, out, 1420).answered;
    ok += OnesComplementSum(udp) != 0;
  }
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_EQ(ok, 600u);
}

// A TUN read judged, a partial checksum completed, a super-segment cut into caller memory: no allocation either.
TEST(IpCore, VnetReadCompleteAndSplitNoAlloc) {
  std::vector<uint8_t> data(20000, 0x42);
  testing::PacketSpec tcp;
  tcp.l4 = testing::Tcp(tcp_flag::kAck, {}, data);
  const auto packet = testing::Build(tcp);
  std::vector<uint8_t> gso_read(kVnetHdrSize);
  EncodeVnetHeader({.gso_type = kVnetGsoTcpv4, .gso_size = 1380}, gso_read);
  gso_read.insert(gso_read.end(), packet.begin(), packet.end());
  std::vector<uint8_t> csum_read(kVnetHdrSize);
  EncodeVnetHeader({.flags = kVnetFlagNeedsCsum, .csum_start = 20, .csum_offset = 16}, csum_read);
  csum_read.insert(csum_read.end(), packet.begin(), packet.end());
  std::array<uint8_t, 1500> room{};
  size_t segments = 0;

  strait::testing::AllocationCounter allocations;
  for (int i = 0; i < 10; ++i) {
    const VnetRead c = ParseVnetRead(csum_read, 1420);
    CompleteChecksum(c);
    const VnetRead g = ParseVnetRead(gso_read, 1420);
    segments += SplitGso(
        g.gso, [&](size_t, size_t) { return std::span<uint8_t>(room); }, [](size_t, std::span<uint8_t>) {});
  }
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_EQ(segments, 10u * 15);  // 20,000 / 1,380 -> 15
}

}  // namespace
}  // namespace strait::ip
