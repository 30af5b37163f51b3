#include "tunnel/ip/tunnel_mtu.h"

#include <gtest/gtest.h>

#include "tunnel/session.h"

namespace strait::ip {
namespace {

// strait_ip restates the session's datagram bound without its crypto headers; these keep the two together.
static_assert(kMaxTunnelPacket == tunnel::kMaxDatagramSize);
static_assert(kDatagramFrameOverhead == tunnel::kHeaderSize + crypto::kTransportOverhead);
static_assert(tunnel::kHeaderSize + tunnel::kSealedOverhead + kMaxRecordAlignedPacket == tunnel::kTlsRecordPlaintext);

TEST(TunnelMtu, TheLargestPacketsASealedDatagramCarries) {
  EXPECT_EQ(kMaxTunnelPacket, 16384u);
  // The protocol's largest packet makes a frame beyond one TLS record; the record-aligned one fills a record.
  EXPECT_GT(kMaxTunnelPacket + kDatagramFrameOverhead, tunnel::kTlsRecordPlaintext);
  EXPECT_EQ(kMaxRecordAlignedPacket + kDatagramFrameOverhead, tunnel::kTlsRecordPlaintext);
  EXPECT_EQ(kMaxRecordAlignedPacket, 16348u);
  // A SEALED_DATAGRAM with the largest packet is still within the frame payload bound.
  EXPECT_LE(kMaxTunnelPacket + tunnel::kSealedOverhead, tunnel::kMaxPayload);
}

TEST(TunnelMtu, LinkBytesPerPacket) {
  EXPECT_EQ(LinkBytesForPacket(1420), 1420u + 12 + 24 + 22);
  EXPECT_EQ(LinkBytesForPacket(kMaxRecordAlignedPacket), tunnel::kTlsRecordPlaintext + kTlsRecordOverhead);
}

TEST(TunnelMtu, MtuBoundsAndMss) {
  EXPECT_TRUE(TunnelMtuValid(kDefaultTunnelMtu));
  EXPECT_TRUE(TunnelMtuValid(576));
  EXPECT_TRUE(TunnelMtuValid(16348));
  EXPECT_FALSE(TunnelMtuValid(575));
  EXPECT_FALSE(TunnelMtuValid(16349));
  EXPECT_FALSE(TunnelMtuValid(0));
  EXPECT_EQ(MssForMtu(1420), 1380);
  EXPECT_EQ(MssForMtu(1500), 1460);
  EXPECT_EQ(MssForMtu(576), 536);  // RFC 9293's default MSS: a SYN without the option fits every MTU we accept
  EXPECT_EQ(MssForMtu(kMaxTunnelMtu), 16308);
}

}  // namespace
}  // namespace strait::ip
