// What a TUN opened with IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) hands over, made into packets the
// tunnel can seal (docs/ip-packets.md, "Offloads: GSO splitting and checksum completion"; docs/ip-tunnel.md §5,
// "Batches"). Each read is a 10-byte struct virtio_net_hdr, then one IPv4 packet that is
//   complete        no flag, gso_type NONE: sealed as it is;
//   NEEDS_CSUM      gso_type NONE: the L4 checksum field holds only the pseudo-header's sum; the sum of the bytes
//                   from csum_start to the packet's end is folded, complemented and stored at csum_start +
//                   csum_offset (CompleteChecksum, in place);
//   GSO_TCPV4       one TCP "super-segment" of up to 64 KiB, to be cut into gso_size-byte segments, each a whole
//                   IPv4/TCP packet (PlanGso's plan, WriteGsoSegment per segment, into memory the caller chooses).
//
//   0        1          2           4           6            8             10
//   +--------+----------+-----------+-----------+------------+-------------+---------- - -
//   | flags  | gso_type | hdr_len   | gso_size  | csum_start | csum_offset | IPv4 packet
//   +--------+----------+-----------+-----------+------------+-------------+---------- - -
//   u16 fields in the host's byte order: TUN follows the host unless TUNSETVNETLE/BE, which we never set
//   (runtime/tun_device.h has the same diagram and the device's side of it).
//
// A segment i of n (WriteGsoSegment), as Linux's own software segmentation (tcp_gso_segment) makes them:
//   the super-segment's IPv4 header (options included) and TCP header (options included) copied, then
//   payload[i*gso_size, min((i+1)*gso_size, end));
//   IPv4: total_length = the segment's size, identification = first + i (mod 2^16), header checksum recomputed;
//   TCP:  sequence = first + i*gso_size (mod 2^32); FIN and PSH only on the last segment; CWR only on the first
//         (RFC 3168 §6.1.2: set once per window reduction; the ECN bit of gso_type says the first has it);
//         every other flag, the acknowledgement, window, urgent pointer and options as in the super-segment;
//         checksum computed over the pseudo-header and the whole segment.
// Nothing of hdr_len is used: the kernel fills it with the length of the skb's linear part, a hint that can be
// as long as a whole first segment (virtio_net_hdr_from_skb); the header length comes from IHL and the TCP data
// offset. It is only bounded by the packet.
//
// Why a read is refused (VnetDrop, counted per reason by the caller), checked in this order:
//   too_short                 fewer than 10 bytes: no virtio_net_hdr
//   bad_flags                 a flag bit other than NEEDS_CSUM (1) and DATA_VALID (2)
//   bad_gso_type              gso_type not NONE (0) or TCPV4 (1) (UDP, TCPV6, UDP_L4 were not asked for), or ECN
//                             (0x80) on anything but TCPV4
//   bad_ipv4                  the packet fails ParseIpv4 (VnetRead::ip_drop names the IPv4 reason)
//   bad_hdr_len               hdr_len beyond the packet
//   bad_csum_request          NEEDS_CSUM with csum_start before the transport header, the field not wholly inside
//                             the packet, an odd csum_offset (no Internet checksum sits there), or on a fragment
//   gso_not_tcp               GSO_TCPV4 on a packet that is not an unfragmented IPv4/TCP packet
//   gso_bad_tcp_flags         GSO_TCPV4 with SYN or RST (Linux never sends either as a super-segment; cutting one
//                             would multiply it)
//   bad_gso_size              GSO_TCPV4 with gso_size 0 or without TCP data
//   gso_too_many_segments     more than kMaxGsoSegments segments
//   gso_segment_above_mtu     the largest segment would exceed `max_packet` (the tunnel MTU): the caller treats
//                             it like any packet above the MTU (an ICMP "fragmentation needed" answering the
//                             super-segment, which is a valid IPv4 packet, makes the sender lower its MSS)
//
// Nothing here allocates, keeps state or does I/O; every function may run on any thread. All reads stay inside
// the read's span, all writes inside the read's packet (CompleteChecksum) or the room given (WriteGsoSegment).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tunnel/ip/ipv4.h"

namespace strait::ip {

// <linux/virtio_net.h>, restated (it does not compile as C++, and strait_ip depends on the standard library only;
// tests/ip/vnet_segments_test.cc checks these against runtime/tun_device.h).
inline constexpr size_t kVnetHdrSize = 10;
inline constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID: checksum already verified
inline constexpr uint8_t kVnetGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kVnetGsoTcpv4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4
inline constexpr uint8_t kVnetGsoEcn = 0x80;      // VIRTIO_NET_HDR_GSO_ECN: the super-segment carries CWR

// The bound on segments per super-segment. A super-segment is at most 65,535 bytes of IPv4 packet, so 128 covers
// every gso_size of 512 bytes or more ((65,535 - 40) / 512 < 128); the smallest tunnel MTU, 576, gives MSS 536
// (tunnel_mtu.h). A smaller gso_size means a peer announced a smaller MSS than every host must accept (RFC 9293
// §3.7.1), and Linux then sizes its super-segments to the pacing rate (tcp_tso_autosize), far below 64 KiB; a
// read that would still make more than 128 packets is refused rather than turned into a burst of tiny frames.
inline constexpr size_t kMaxGsoSegments = 128;

struct VnetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  bool needs_csum() const { return (flags & kVnetFlagNeedsCsum) != 0; }
  bool gso() const { return (gso_type & static_cast<uint8_t>(~kVnetGsoEcn)) != kVnetGsoNone; }
};

// Reads the 10 header bytes as they are (no judgement: ParseVnetRead judges). `bytes` holds at least kVnetHdrSize.
VnetHeader DecodeVnetHeader(std::span<const uint8_t> bytes);
// Writes `h` into the first kVnetHdrSize bytes of `out` (tests, the fuzzer and a device that writes to the TUN).
void EncodeVnetHeader(const VnetHeader& h, std::span<uint8_t> out);

// Why a read is refused (the table above); VnetDropName gives each a stable snake_case name for counters.
enum class VnetDrop : uint8_t {
  kTooShort,
  kBadFlags,
  kBadGsoType,
  kBadIpv4,
  kBadHdrLen,
  kBadCsumRequest,
  kGsoNotTcp,
  kGsoBadTcpFlags,
  kBadGsoSize,
  kGsoTooManySegments,
  kGsoSegmentAboveMtu,
};
inline constexpr size_t kVnetDropCount = 11;
std::string_view VnetDropName(VnetDrop r);

enum class VnetKind : uint8_t {
  kComplete,       // seal the packet as it is
  kNeedsChecksum,  // CompleteChecksum, then seal it
  kGsoTcpv4,       // cut it: VnetRead::gso
};

// Everything WriteGsoSegment needs, computed once per super-segment. It points into the read (payload), so the read's
// bytes after the headers must stay as they were until the last segment is written; the headers are copied here,
// so the read's own header bytes may change (segment 0 written in place, see WriteGsoSegment).
struct GsoPlan {
  std::array<uint8_t, kIpv4MaxHeaderSize + kTcpMaxHeaderSize> headers{};  // the super-segment's, first
  uint8_t ip_header_length = 0;
  uint8_t tcp_header_length = 0;
  uint16_t gso_size = 0;                // payload bytes per segment (the last may have fewer)
  uint16_t segments = 0;                // 1..kMaxGsoSegments
  std::span<const uint8_t> payload;     // the super-segment's TCP data, in the read
  uint16_t first_id = 0;
  uint32_t first_seq = 0;
  uint8_t tcp_flags = 0;
  // Sums taken once (folded one's-complement, RFC 1071): the IPv4 header with total_length, identification and
  // checksum as 0; the TCP header with sequence, flags and checksum as 0, plus the pseudo-header without its length.
  uint16_t ip_sum = 0;
  uint16_t tcp_sum = 0;

  size_t header_length() const { return size_t{ip_header_length} + tcp_header_length; }
};

// One read judged. Spans point into the read and live as long as it. When !ok, only drop (and ip_drop) count.
struct VnetRead {
  bool ok = false;
  VnetDrop drop = VnetDrop::kTooShort;         // why not, when !ok
  DropReason ip_drop = DropReason::kTooShort;  // when drop == kBadIpv4
  VnetKind kind = VnetKind::kComplete;
  VnetHeader header;
  std::span<uint8_t> packet;  // the IPv4 packet after the header, total_length bytes (link padding cut)
  Ipv4Packet ip;              // ParseIpv4's view of `packet` (of the super-segment for kGsoTcpv4)
  GsoPlan gso;                // when kind == kGsoTcpv4
};

// Judges one TUN read (virtio_net_hdr + packet) against the table above; `max_packet` (the tunnel MTU) bounds the
// segments of a GSO_TCPV4 read only (other packets above it are the caller's to answer, as without offloads).
// Reads only `read`, writes nothing. A DATA_VALID flag changes nothing: the checksum is already complete.
VnetRead ParseVnetRead(std::span<uint8_t> read, size_t max_packet);

// Completes the partial checksum of a kNeedsChecksum read in place: the sum of packet[csum_start, end), whose
// checksum field holds the pseudo-header's sum, complemented; 0 is stored as 0xFFFF, as Linux's
// skb_checksum_help does (the other zero of one's complement: TCP verifies either, UDP must not send 0).
// Writes the 2 bytes of the field only. Does nothing for any other read.
void CompleteChecksum(const VnetRead& read);

// The size of segment i (< plan.segments): the headers and min(gso_size, what is left) bytes of data.
size_t GsoSegmentSize(const GsoPlan& plan, size_t i);

// Writes segment i (< plan.segments) into the first GsoSegmentSize(plan, i) bytes of `room` and returns them; returns
// an empty span, writing nothing, if `room` is smaller. Costs one copy of the segment and one checksum pass over its
// data (bench/micro/ipv4_bench.cc, BM_SplitGso64k).
//
// `room` must not overlap the read, with one exception made for a device that read the TUN straight into a
// frame: segment 0 may be written in place, into read.packet itself (its data is already where it belongs; only
// header fields change). Do that last: sealing segment 0 in place writes its tag over segment 1's data.
std::span<uint8_t> WriteGsoSegment(const GsoPlan& plan, size_t i, std::span<uint8_t> room);

// The whole split through a sink: for i in 0..segments-1, `room(i, size)` returns memory for segment i (a
// std::span<uint8_t>; fewer than `size` bytes stops the split), then `done(i, segment)` takes the written segment.
// Returns the number of segments done (plan.segments unless a room was too small).
template <class Room, class Done>
size_t SplitGso(const GsoPlan& plan, Room&& room, Done&& done) {
  for (size_t i = 0; i < plan.segments; ++i) {
    const std::span<uint8_t> segment = WriteGsoSegment(plan, i, room(i, GsoSegmentSize(plan, i)));
    if (segment.empty()) return i;
    done(i, segment);
  }
  return plan.segments;
}

}  // namespace strait::ip
