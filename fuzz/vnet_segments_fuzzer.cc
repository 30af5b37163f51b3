// vnet_segments_fuzzer: TUN reads with a virtio_net_hdr into the IP tunnel's offload core (tunnel/ip/vnet_segments.h):
// ParseVnetRead, CompleteChecksum, the GSO split.
//
// Input: [u8 mode] then the read (10-byte virtio_net_hdr in host order, then the packet). Mode bit 0: set the IPv4
// total_length to the bytes present (at most 65,535), bit 1: then fill in the IPv4 header checksum, bit 2: then
// put the pseudo-header's sum in the checksum field csum_start + csum_offset names, as the kernel does for
// NEEDS_CSUM (so mutations get past the checks a random byte string never passes); bits 3-4 pick max_packet
// (576, 1420, 9000, 65535); bit 5 puts the read one byte into its buffer (odd addresses for the checksum loads).
// Every buffer (the read, each segment's room) has its exact size, so ASan traps any access past it.
//
// Properties (trap on violation), beyond "never crashes, never reads or writes out of bounds":
//   - ParseVnetRead writes nothing; a drop has a name; bad_ipv4 iff ParseIpv4 refuses the packet, with its reason;
//     ok: the packet is the read after the header, total_length bytes; the kind follows flags and gso_type;
//   - CompleteChecksum changes the two bytes of the field only, and the range it covers then sums, with the old
//     field value added, to 0xFFFF; with the pseudo-header's sum in the field of a TCP or UDP packet (bit 2), the
//     completed packet parses and its transport checksum verifies;
//   - a GSO split makes ceil(data / gso_size) <= 128 segments, each exactly GsoSegmentSize bytes, at most
//     max_packet, parsing as unfragmented IPv4/TCP with a valid IPv4 checksum (word-by-word reference) and a valid
//     TCP checksum; IDs increment, sequence numbers are contiguous, FIN/PSH only on the last, CWR only on the first,
//     headers otherwise the super-segment's; the data joined is the super-segment's data; segment 0 written in
//     place into the read is the same bytes.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tunnel/ip/checksum.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/vnet_segments.h"

namespace {

using namespace strait::ip;  // NOLINT(google-build-using-namespace)

void Check(bool ok) {
  if (!ok) std::abort();
}

uint16_t NaiveSum(std::span<const uint8_t> b, uint32_t initial = 0) {
  uint64_t sum = initial;
  for (size_t i = 0; i < b.size(); i += 2) sum += (uint32_t{b[i]} << 8) | (i + 1 < b.size() ? b[i + 1] : 0u);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint16_t Get16(std::span<const uint8_t> b, size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }
void Put16(std::span<uint8_t> b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

constexpr uint8_t kCwr = 0x80;

// Mode bits 0-2 (see the top): make the packet's length, header checksum and partial checksum what the kernel gives.
void Prepare(std::span<uint8_t> read, uint8_t mode) {
  if (read.size() < kVnetHdrSize + kIpv4MinHeaderSize) return;
  std::span<uint8_t> p = read.subspan(kVnetHdrSize);
  if (mode & 0x01) Put16(p, kIpv4TotalLengthOffset, static_cast<uint16_t>(std::min<size_t>(p.size(), 65535)));
  const size_t hl = (p[0] & 0x0Fu) * 4;
  if ((mode & 0x02) && hl >= kIpv4MinHeaderSize && hl <= p.size()) {
    Put16(p, kIpv4ChecksumOffset, 0);
    Put16(p, kIpv4ChecksumOffset, static_cast<uint16_t>(~NaiveSum(p.first(hl))));
  }
  if (mode & 0x04) {
    const VnetHeader h = DecodeVnetHeader(read);
    const size_t end = std::min<size_t>(p.size(), Get16(p, kIpv4TotalLengthOffset));
    const size_t field = size_t{h.csum_start} + h.csum_offset;
    if (h.csum_start >= kIpv4MinHeaderSize && h.csum_start <= end && field + 2 <= end) {
      const uint32_t src = (uint32_t{Get16(p, 12)} << 16) | Get16(p, 14);
      const uint32_t dst = (uint32_t{Get16(p, 16)} << 16) | Get16(p, 18);
      Put16(p, field, PseudoHeaderSum(src, dst, p[9], static_cast<uint16_t>(end - h.csum_start)));
    }
  }
}

void CheckComplete(const VnetRead& r, uint8_t mode) {
  std::vector<uint8_t> before(r.packet.begin(), r.packet.end());
  CompleteChecksum(r);
  const VnetHeader& h = r.header;
  const size_t field = size_t{h.csum_start} + h.csum_offset;
  for (size_t i = 0; i < before.size(); ++i) {
    if (i != field && i != field + 1) Check(r.packet[i] == before[i]);
  }
  const uint16_t old_value = Get16(before, field);
  Check(NaiveSum(r.packet.subspan(h.csum_start), old_value) == 0xFFFF);
  const bool kernel_like = (mode & 0x04) && h.csum_start == r.ip.header_length;
  const bool tcp = r.ip.protocol == protocol::kTcp && h.csum_offset == kTcpChecksumOffset;
  const bool udp = r.ip.protocol == protocol::kUdp && h.csum_offset == kUdpChecksumOffset &&
                   r.ip.payload.size() >= kUdpHeaderSize && Get16(r.ip.payload, 4) == r.ip.payload.size();
  if (kernel_like && (tcp || udp)) {
    const ParsedIpv4 after = ParseIpv4(r.packet);
    Check(after.ok && TransportChecksumValid(after.packet));
  }
}

void CheckSplit(const VnetRead& r, std::span<const uint8_t> read, size_t max_packet) {
  const GsoPlan& plan = r.gso;
  const Ipv4Packet& sp = r.ip;
  const size_t data = sp.tcp.payload.size();
  Check(plan.segments >= 1 && plan.segments <= kMaxGsoSegments);
  Check(plan.segments == (data + r.header.gso_size - 1) / r.header.gso_size);
  std::vector<uint8_t> joined;
  std::vector<uint8_t> first;
  uint32_t seq = sp.tcp.seq;
  std::vector<uint8_t> room;  // each segment's, exactly its size
  const size_t n = SplitGso(
      plan,
      [&](size_t, size_t size) {
        room.assign(size, 0xA5);
        return std::span<uint8_t>(room);
      },
      [&](size_t i, std::span<uint8_t> segment) {
        Check(segment.size() == GsoSegmentSize(plan, i) && segment.size() <= max_packet);
        const ParsedIpv4 s = ParseIpv4(segment);
        Check(s.ok && s.packet.transport == Transport::kTcp && !s.packet.is_fragment());
        const Ipv4Packet& p = s.packet;
        Check(p.total_length == segment.size() && NaiveSum(p.header) == 0xFFFF);
        Check(TransportChecksumValid(p));
        Check(p.id == static_cast<uint16_t>(sp.id + i) && p.src == sp.src && p.dst == sp.dst && p.ttl == sp.ttl);
        Check(std::ranges::equal(p.options, sp.options) && std::ranges::equal(p.tcp.options, sp.tcp.options));
        Check(p.tcp.seq == seq && p.tcp.ack == sp.tcp.ack);
        seq += static_cast<uint32_t>(p.tcp.payload.size());
        const bool last = i + 1 == plan.segments;
        Check(p.tcp.payload.size() == (last ? data - i * plan.gso_size : plan.gso_size));
        uint8_t want = sp.tcp.flags;
        if (i != 0) want &= static_cast<uint8_t>(~kCwr);
        if (!last) want &= static_cast<uint8_t>(~(tcp_flag::kFin | tcp_flag::kPsh));
        Check(p.tcp.flags == want);
        joined.insert(joined.end(), p.tcp.payload.begin(), p.tcp.payload.end());
        if (i == 0) first.assign(segment.begin(), segment.end());
      });
  Check(n == plan.segments);
  Check(std::ranges::equal(joined, sp.tcp.payload));

  // Segment 0 in place, into a copy of the read judged afresh.
  std::vector<uint8_t> copy(read.begin(), read.end());
  const VnetRead again = ParseVnetRead(copy, max_packet);
  Check(again.ok && again.kind == VnetKind::kGsoTcpv4);
  const std::span<uint8_t> in_place = WriteGsoSegment(again.gso, 0, again.packet);
  Check(in_place.data() == again.packet.data() && std::ranges::equal(in_place, first));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const size_t n = size - 1;
  const size_t shift = (mode & 0x20) ? 1 : 0;
  std::vector<uint8_t> storage(shift + n);
  std::span<uint8_t> read = std::span<uint8_t>(storage).subspan(shift);
  if (n != 0) std::memcpy(read.data(), data + 1, n);
  Prepare(read, mode);
  static constexpr std::array<size_t, 4> kMaxPacket = {576, 1420, 9000, 65535};
  const size_t max_packet = kMaxPacket[(mode >> 3) & 3];

  const std::vector<uint8_t> before(read.begin(), read.end());
  const VnetRead r = ParseVnetRead(read, max_packet);
  Check(std::ranges::equal(read, before));
  Check(VnetDropName(r.drop) != "unknown");
  if (read.size() >= kVnetHdrSize) {
    const ParsedIpv4 ip = ParseIpv4(read.subspan(kVnetHdrSize));
    if (r.ok || r.drop > VnetDrop::kBadIpv4) Check(ip.ok);
    if (!r.ok && r.drop == VnetDrop::kBadIpv4) Check(!ip.ok && ip.drop == r.ip_drop);
  }
  if (!r.ok) return 0;

  Check(r.packet.data() == read.data() + kVnetHdrSize && r.packet.size() == r.ip.total_length);
  const VnetHeader& h = r.header;
  Check((h.flags & ~(kVnetFlagNeedsCsum | kVnetFlagDataValid)) == 0);
  switch (r.kind) {
    case VnetKind::kComplete:
      Check(h.gso_type == kVnetGsoNone && !h.needs_csum());
      break;
    case VnetKind::kNeedsChecksum:
      Check(h.gso_type == kVnetGsoNone && h.needs_csum());
      CheckComplete(r, mode);
      break;
    case VnetKind::kGsoTcpv4:
      Check((h.gso_type & ~kVnetGsoEcn) == kVnetGsoTcpv4);
      CheckSplit(r, before, max_packet);
      break;
  }
  return 0;
}
