// The arithmetic of the tunnel MTU (docs/ip-packets.md, "The tunnel MTU"). One IPv4 packet rides in one
// SEALED_DATAGRAM (docs/protocol.md §9), which rides on a TLS 1.3 link:
//
//   TLS record   | 5 header | plaintext ..................................................... | 1 type | 16 tag |
//   plaintext    | frame header 12 | counter 8 | IPv4 packet (P bytes) | Poly1305 tag 16 |
//                  tunnel/frame.h    \_____ sealed message: kSealedOverhead = 8 + 16 ______/
//
//   per packet: P + 12 + 24 = P + 36 bytes of frames; TLS adds 22 per record (5 header, 1 content type, 16 tag),
//   shared by the frames a link seals into one record. A packet whose frame is a record of its own costs P + 58.
//
// The protocol carries packets up to kMaxDatagramSize = 16,384 bytes (tunnel/session.h). A frame that large is
// 16,420 bytes, beyond one TLS record's 16,384 of plaintext, so it splits over two; the largest packet whose frame
// fits one record is 16,384 - 36 = 16,348 (kMaxRecordAlignedPacket), and that is the largest tunnel MTU we accept
// (records stay aligned with frames, docs/link.md "Record alignment").
//
// The TUN's MTU is set far lower: the packets leave the connector through ordinary networks (1,500-byte Ethernet,
// often less behind PPPoE or another tunnel), and a packet larger than that path's MTU is fragmented or dropped
// there. The default, 1,420, leaves 80 bytes below Ethernet's 1,500 for such a hop; it is configurable within
// [kMinTunnelMtu, kMaxTunnelMtu]. TCP through the tunnel is kept within it by clamping the MSS of SYNs to
// MssForMtu(mtu) (mss_clamp.h); other packets above it are answered with ICMP "fragmentation needed" carrying it
// (icmp_error.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tunnel/frame.h"

namespace strait::ip {

// TLS 1.3 (RFC 8446 §5.2): 5-byte record header, and in the encrypted part 1 content-type byte and a 16-byte tag.
inline constexpr size_t kTlsRecordOverhead = 5 + 1 + 16;
// One SEALED_DATAGRAM frame around a packet: the link frame header and the sealed message's counter and tag.
inline constexpr size_t kDatagramFrameOverhead = tunnel::kHeaderSize + tunnel::kSealedOverhead;  // 36
// The largest packet a SEALED_DATAGRAM carries (== tunnel::kMaxDatagramSize in tunnel/session.h, checked by
// tests/ip/tunnel_mtu_test.cc; restated here so that strait_ip needs no crypto headers).
inline constexpr size_t kMaxTunnelPacket = tunnel::kMaxStreamChunk;  // 16,384
// The largest packet whose frame is one TLS record.
inline constexpr size_t kMaxRecordAlignedPacket = tunnel::kTlsRecordPlaintext - kDatagramFrameOverhead;  // 16,348

// The TUN MTU: bounds and default. 576 is the datagram every IPv4 host must accept (RFC 791); with it the clamp
// gives MSS 536, RFC 9293's default, so a SYN without the option never needs one added.
inline constexpr size_t kMinTunnelMtu = 576;
inline constexpr size_t kMaxTunnelMtu = kMaxRecordAlignedPacket;
inline constexpr size_t kDefaultTunnelMtu = 1420;
static_assert(kTlsRecordOverhead == 22 && kDatagramFrameOverhead == 36);
static_assert(kMaxRecordAlignedPacket == 16348 && kMaxRecordAlignedPacket <= kMaxTunnelPacket);
static_assert(kMinTunnelMtu <= kDefaultTunnelMtu && kDefaultTunnelMtu <= kMaxTunnelMtu);

constexpr bool TunnelMtuValid(size_t mtu) { return mtu >= kMinTunnelMtu && mtu <= kMaxTunnelMtu; }

// TLS bytes on the link for one packet of `packet_size` bytes whose frame is a record of its own (the worst case:
// frames sealed together share the 22).
constexpr size_t LinkBytesForPacket(size_t packet_size) {
  return packet_size + kDatagramFrameOverhead + kTlsRecordOverhead;
}

// The MSS for a TUN MTU: the MTU less a 20-byte IPv4 header and a 20-byte TCP header. The MSS counts neither IP nor
// TCP options (RFC 6691 §2: the sender subtracts the options it sends). `mtu` within [kMinTunnelMtu, kMaxTunnelMtu].
constexpr uint16_t MssForMtu(size_t mtu) { return static_cast<uint16_t>(mtu - 40); }
static_assert(MssForMtu(kMinTunnelMtu) == 536 && MssForMtu(kDefaultTunnelMtu) == 1380);

}  // namespace strait::ip
