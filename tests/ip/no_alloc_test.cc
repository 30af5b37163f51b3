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

}  // namespace
}  // namespace strait::ip
