#include "tunnel/ip/vnet_segments.h"

#include <cstring>

#include "tunnel/ip/checksum.h"

namespace strait::ip {
namespace {

// Offsets of the fields a segment rewrites, within its IPv4 and TCP headers (RFC 791, RFC 9293).
constexpr size_t kIpv4IdOffset = 4;
constexpr size_t kTcpSeqOffset = 4;
constexpr size_t kTcpFlagsOffset = 13;  // the low byte of the 16-bit word at 12 (data offset, reserved, flags)
constexpr uint8_t kTcpFlagCwr = 0x80;
constexpr uint8_t kVnetKnownFlags = kVnetFlagNeedsCsum | kVnetFlagDataValid;

// virtio_net_hdr's u16 fields, in the host's order (see the header).
uint16_t LoadHost16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void StoreHost16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}

// A folded sum of a few 16-bit values (each below 2^16, at most 2^16 of them): OnesComplementSum folds its initial.
uint16_t Fold(uint32_t sum) { return OnesComplementSum({}, sum); }

bool Refuse(VnetRead& r, VnetDrop drop) {
  r.drop = drop;
  return false;
}

// Fills r.gso from a super-segment that parsed as unfragmented IPv4/TCP; false (and r.drop) if it cannot be cut.
bool Plan(VnetRead& r, size_t max_packet) {
  const Ipv4Packet& ip = r.ip;
  GsoPlan& g = r.gso;
  if (ip.tcp.flags & (tcp_flag::kSyn | tcp_flag::kRst)) return Refuse(r, VnetDrop::kGsoBadTcpFlags);
  const size_t data = ip.tcp.payload.size();
  if (r.header.gso_size == 0 || data == 0) return Refuse(r, VnetDrop::kBadGsoSize);
  const size_t segments = (data + r.header.gso_size - 1) / r.header.gso_size;
  if (segments > kMaxGsoSegments) return Refuse(r, VnetDrop::kGsoTooManySegments);
  g.ip_header_length = ip.header_length;
  g.tcp_header_length = static_cast<uint8_t>(ip.tcp.header.size());
  g.gso_size = r.header.gso_size;
  g.segments = static_cast<uint16_t>(segments);
  g.payload = ip.tcp.payload;
  g.first_id = ip.id;
  g.first_seq = ip.tcp.seq;
  g.tcp_flags = ip.tcp.flags;
  if (GsoSegmentSize(g, 0) > max_packet) return Refuse(r, VnetDrop::kGsoSegmentAboveMtu);
  // The template: both headers with the per-segment fields zeroed, so their sums are taken once and each segment
  // adds its own values (a zero word adds nothing to a one's-complement sum).
  uint8_t* const h = g.headers.data();
  std::memcpy(h, ip.header.data(), g.ip_header_length);
  std::memcpy(h + g.ip_header_length, ip.tcp.header.data(), g.tcp_header_length);
  Put16(h + kIpv4TotalLengthOffset, 0);
  Put16(h + kIpv4IdOffset, 0);
  Put16(h + kIpv4ChecksumOffset, 0);
  uint8_t* const tcp = h + g.ip_header_length;
  Put32(tcp + kTcpSeqOffset, 0);
  tcp[kTcpFlagsOffset] = 0;
  Put16(tcp + kTcpChecksumOffset, 0);
  g.ip_sum = OnesComplementSum({h, g.ip_header_length});
  g.tcp_sum = OnesComplementSum({tcp, g.tcp_header_length}, PseudoHeaderSum(ip.src, ip.dst, protocol::kTcp, 0));
  return true;
}

// The checks of the table in the header, in its order; false (and r.drop) at the first that fails.
bool Judge(std::span<uint8_t> read, size_t max_packet, VnetRead& r) {
  if (read.size() < kVnetHdrSize) return Refuse(r, VnetDrop::kTooShort);
  r.header = DecodeVnetHeader(read);
  const VnetHeader& h = r.header;
  if ((h.flags & ~kVnetKnownFlags) != 0) return Refuse(r, VnetDrop::kBadFlags);
  const uint8_t type = h.gso_type & static_cast<uint8_t>(~kVnetGsoEcn);
  const bool ecn = (h.gso_type & kVnetGsoEcn) != 0;
  if (type == kVnetGsoTcpv4) {
    r.kind = VnetKind::kGsoTcpv4;
  } else if (type == kVnetGsoNone && !ecn) {
    r.kind = h.needs_csum() ? VnetKind::kNeedsChecksum : VnetKind::kComplete;
  } else {
    return Refuse(r, VnetDrop::kBadGsoType);
  }

  const ParsedIpv4 parsed = ParseIpv4(read.subspan(kVnetHdrSize));
  if (!parsed.ok) {
    r.ip_drop = parsed.drop;
    return Refuse(r, VnetDrop::kBadIpv4);
  }
  r.ip = parsed.packet;
  r.packet = read.subspan(kVnetHdrSize, r.ip.total_length);
  if (h.hdr_len > r.packet.size()) return Refuse(r, VnetDrop::kBadHdrLen);
  if (h.needs_csum()) {
    // The field lies after the IPv4 header (completing it never touches what ParseIpv4 judged) and wholly in the
    // packet; an odd offset from csum_start would straddle the sum's words. A fragment holds part of a segment.
    const size_t field = size_t{h.csum_start} + h.csum_offset;
    if (h.csum_start < r.ip.header_length || field + 2 > r.packet.size() || (h.csum_offset & 1) != 0 ||
        r.ip.is_fragment()) {
      return Refuse(r, VnetDrop::kBadCsumRequest);
    }
  }
  if (r.kind == VnetKind::kGsoTcpv4) {
    if (r.ip.transport != Transport::kTcp || r.ip.is_fragment()) return Refuse(r, VnetDrop::kGsoNotTcp);
    return Plan(r, max_packet);
  }
  return true;
}

}  // namespace

VnetHeader DecodeVnetHeader(std::span<const uint8_t> bytes) {
  VnetHeader h;
  const uint8_t* p = bytes.first(kVnetHdrSize).data();
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = LoadHost16(p + 2);
  h.gso_size = LoadHost16(p + 4);
  h.csum_start = LoadHost16(p + 6);
  h.csum_offset = LoadHost16(p + 8);
  return h;
}

void EncodeVnetHeader(const VnetHeader& h, std::span<uint8_t> out) {
  uint8_t* p = out.first(kVnetHdrSize).data();
  p[0] = h.flags;
  p[1] = h.gso_type;
  StoreHost16(p + 2, h.hdr_len);
  StoreHost16(p + 4, h.gso_size);
  StoreHost16(p + 6, h.csum_start);
  StoreHost16(p + 8, h.csum_offset);
}

std::string_view VnetDropName(VnetDrop r) {
  switch (r) {
    case VnetDrop::kTooShort: return "too_short";
    case VnetDrop::kBadFlags: return "bad_flags";
    case VnetDrop::kBadGsoType: return "bad_gso_type";
    case VnetDrop::kBadIpv4: return "bad_ipv4";
    case VnetDrop::kBadHdrLen: return "bad_hdr_len";
    case VnetDrop::kBadCsumRequest: return "bad_csum_request";
    case VnetDrop::kGsoNotTcp: return "gso_not_tcp";
    case VnetDrop::kGsoBadTcpFlags: return "gso_bad_tcp_flags";
    case VnetDrop::kBadGsoSize: return "bad_gso_size";
    case VnetDrop::kGsoTooManySegments: return "gso_too_many_segments";
    case VnetDrop::kGsoSegmentAboveMtu: return "gso_segment_above_mtu";
  }
  return "unknown";
}

VnetRead ParseVnetRead(std::span<uint8_t> read, size_t max_packet) {
  VnetRead r;
  r.ok = Judge(read, max_packet, r);
  return r;
}

void CompleteChecksum(const VnetRead& read) {
  if (!read.ok || read.kind != VnetKind::kNeedsChecksum) return;
  const VnetHeader& h = read.header;
  const uint16_t sum = OnesComplementSum(read.packet.subspan(h.csum_start));
  const uint16_t checksum = static_cast<uint16_t>(~sum);
  Put16(read.packet.data() + h.csum_start + h.csum_offset, checksum == 0 ? 0xFFFF : checksum);
}

size_t GsoSegmentSize(const GsoPlan& plan, size_t i) {
  const size_t offset = i * plan.gso_size;
  const size_t left = plan.payload.size() - offset;
  return plan.header_length() + (left < plan.gso_size ? left : plan.gso_size);
}

std::span<uint8_t> WriteGsoSegment(const GsoPlan& plan, size_t i, std::span<uint8_t> room) {
  const size_t size = GsoSegmentSize(plan, i);
  if (room.size() < size) return {};
  const size_t hl = plan.header_length();
  const size_t data = size - hl;
  uint8_t* const out = room.data();
  // The data first: in place (segment 0 into the read itself) it is already there, and memmove leaves it so.
  std::memmove(out + hl, plan.payload.data() + i * plan.gso_size, data);
  std::memcpy(out, plan.headers.data(), hl);

  const uint16_t total_length = static_cast<uint16_t>(size);
  const uint16_t id = static_cast<uint16_t>(plan.first_id + i);
  Put16(out + kIpv4TotalLengthOffset, total_length);
  Put16(out + kIpv4IdOffset, id);
  Put16(out + kIpv4ChecksumOffset, static_cast<uint16_t>(~Fold(uint32_t{plan.ip_sum} + total_length + id)));

  uint8_t* const tcp = out + plan.ip_header_length;
  const uint32_t seq = plan.first_seq + static_cast<uint32_t>(i * plan.gso_size);
  uint8_t flags = plan.tcp_flags;
  if (i != 0) flags &= static_cast<uint8_t>(~kTcpFlagCwr);
  if (i + 1 != plan.segments) flags &= static_cast<uint8_t>(~(tcp_flag::kFin | tcp_flag::kPsh));
  Put32(tcp + kTcpSeqOffset, seq);
  tcp[kTcpFlagsOffset] = flags;
  // The template's sum (pseudo-header addresses and protocol, the header without its per-segment fields) plus the
  // pseudo-header's length, the sequence number, the flags (low byte of their word), then the data as written.
  const uint16_t tcp_length = static_cast<uint16_t>(size - plan.ip_header_length);
  const uint32_t head = uint32_t{plan.tcp_sum} + tcp_length + (seq >> 16) + (seq & 0xFFFF) + flags;
  Put16(tcp + kTcpChecksumOffset, InternetChecksum({out + hl, data}, Fold(head)));
  return room.first(size);
}

}  // namespace strait::ip
