#include "tunnel/ip/ipv4.h"

#include "crypto/byte_reader.h"
#include "tunnel/ip/checksum.h"

namespace strait::ip {
namespace {

struct Verdict {
  bool ok;
  DropReason drop;
};
constexpr Verdict kOk{true, DropReason::kTooShort};
constexpr Verdict Drop(DropReason r) { return {false, r}; }

// `l4` is the IP payload present in this packet (the first fragment's part of it, or all of it); `whole` says
// whether it is the entire transport segment (not a first fragment with more to come).
Verdict ParseTcp(std::span<const uint8_t> l4, TcpHeader& t) {
  ByteReader r(l4);
  uint8_t offset_byte = 0;
  if (!r.ReadU16(&t.src_port) || !r.ReadU16(&t.dst_port) || !r.ReadU32(&t.seq) || !r.ReadU32(&t.ack) ||
      !r.ReadU8(&offset_byte) || !r.ReadU8(&t.flags)) {
    return Drop(DropReason::kBadTcpHeader);
  }
  uint16_t window = 0, urgent = 0;
  if (!r.ReadU16(&window) || !r.ReadU16(&t.checksum) || !r.ReadU16(&urgent)) return Drop(DropReason::kBadTcpHeader);
  const size_t header_length = static_cast<size_t>(offset_byte >> 4) * 4;
  if (header_length < kTcpMinHeaderSize || header_length > l4.size()) return Drop(DropReason::kBadTcpHeader);
  if (!r.ReadBytes(header_length - kTcpMinHeaderSize, &t.options)) return Drop(DropReason::kBadTcpHeader);
  t.header = l4.first(header_length);
  t.payload = r.rest();
  return kOk;
}

Verdict ParseUdp(std::span<const uint8_t> l4, bool whole, UdpHeader& u) {
  ByteReader r(l4);
  if (!r.ReadU16(&u.src_port) || !r.ReadU16(&u.dst_port) || !r.ReadU16(&u.length) || !r.ReadU16(&u.checksum)) {
    return Drop(DropReason::kBadUdpHeader);
  }
  if (u.length < kUdpHeaderSize) return Drop(DropReason::kBadUdpLength);
  // Whole: the datagram ends at its length (bytes after it are ignored, as Linux's udp_rcv trims them). A first
  // fragment holds part of the datagram, so the length covers at least what is here.
  if (whole ? u.length > l4.size() : u.length < l4.size()) return Drop(DropReason::kBadUdpLength);
  const size_t present = whole ? u.length : l4.size();
  u.payload = l4.subspan(kUdpHeaderSize, present - kUdpHeaderSize);
  return kOk;
}

Verdict ParseIcmp(std::span<const uint8_t> l4, IcmpHeader& m) {
  ByteReader r(l4);
  if (!r.ReadU8(&m.type) || !r.ReadU8(&m.code) || !r.ReadU16(&m.checksum) || !r.ReadBytes(4, &m.rest)) {
    return Drop(DropReason::kBadIcmpHeader);
  }
  if (m.is_echo()) {
    ByteReader rest(m.rest);
    rest.ReadU16(&m.echo_id);
    rest.ReadU16(&m.echo_seq);
  }
  m.body = r.rest();
  return kOk;
}

Verdict ParseHeader(std::span<const uint8_t> bytes, Ipv4Packet& p) {
  ByteReader r(bytes);
  uint8_t version_ihl = 0;
  uint16_t flags_offset = 0, checksum = 0;
  if (!r.ReadU8(&version_ihl) || !r.ReadU8(&p.tos) || !r.ReadU16(&p.total_length) || !r.ReadU16(&p.id) ||
      !r.ReadU16(&flags_offset) || !r.ReadU8(&p.ttl) || !r.ReadU8(&p.protocol) || !r.ReadU16(&checksum) ||
      !r.ReadU32(&p.src) || !r.ReadU32(&p.dst)) {
    return Drop(DropReason::kTooShort);
  }
  if ((version_ihl >> 4) != 4) return Drop(DropReason::kBadVersion);
  p.header_length = static_cast<uint8_t>((version_ihl & 0x0F) * 4);
  if (p.header_length < kIpv4MinHeaderSize || p.header_length > bytes.size()) {
    return Drop(DropReason::kBadHeaderLength);
  }
  if (p.total_length < p.header_length || p.total_length > bytes.size()) return Drop(DropReason::kBadTotalLength);
  p.bytes = bytes.first(p.total_length);
  p.header = p.bytes.first(p.header_length);
  if (OnesComplementSum(p.header) != 0xFFFF) return Drop(DropReason::kBadHeaderChecksum);
  p.options = p.header.subspan(kIpv4MinHeaderSize);
  p.payload = p.bytes.subspan(p.header_length);
  p.dont_fragment = (flags_offset & kIpv4FlagDontFragment) != 0;
  p.more_fragments = (flags_offset & kIpv4FlagMoreFragments) != 0;
  p.fragment_offset = static_cast<uint16_t>((flags_offset & kIpv4FragmentOffsetMask) * 8);
  // A fragment whose end lies beyond the largest IPv4 packet can only be an attack on reassembly (the "ping of
  // death"); a TCP fragment at offset 8 overlaps the first fragment's TCP flags (RFC 1858).
  if (size_t{p.fragment_offset} + p.payload.size() + p.header_length > kIpv4MaxPacketSize) {
    return Drop(DropReason::kBadFragment);
  }
  if (p.protocol == protocol::kTcp && p.fragment_offset == 8) return Drop(DropReason::kBadFragment);
  return kOk;
}

}  // namespace

std::string_view DropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kTooShort: return "too_short";
    case DropReason::kBadVersion: return "bad_version";
    case DropReason::kBadHeaderLength: return "bad_header_length";
    case DropReason::kBadTotalLength: return "bad_total_length";
    case DropReason::kBadHeaderChecksum: return "bad_header_checksum";
    case DropReason::kBadFragment: return "bad_fragment";
    case DropReason::kBadTcpHeader: return "bad_tcp_header";
    case DropReason::kBadUdpHeader: return "bad_udp_header";
    case DropReason::kBadUdpLength: return "bad_udp_length";
    case DropReason::kBadIcmpHeader: return "bad_icmp_header";
  }
  return "unknown";
}

ParsedIpv4 ParseIpv4(std::span<const uint8_t> bytes) {
  ParsedIpv4 out;
  Ipv4Packet& p = out.packet;
  Verdict v = ParseHeader(bytes, p);
  if (v.ok) {
    const bool whole = !p.more_fragments;
    if (p.fragment_offset != 0) {
      p.transport = Transport::kNone;
    } else if (p.protocol == protocol::kTcp) {
      p.transport = Transport::kTcp;
      v = ParseTcp(p.payload, p.tcp);
    } else if (p.protocol == protocol::kUdp) {
      p.transport = Transport::kUdp;
      v = ParseUdp(p.payload, whole, p.udp);
    } else if (p.protocol == protocol::kIcmp) {
      p.transport = Transport::kIcmp;
      v = ParseIcmp(p.payload, p.icmp);
    } else {
      p.transport = Transport::kUnsupported;
    }
  }
  out.ok = v.ok;
  out.drop = v.drop;
  if (!v.ok) out.packet = Ipv4Packet{};
  return out;
}

bool TransportChecksumValid(const Ipv4Packet& p) {
  if (p.is_fragment()) return false;
  switch (p.transport) {
    case Transport::kTcp:
      return OnesComplementSum(p.payload, PseudoHeaderSum(p.src, p.dst, p.protocol,
                                                          static_cast<uint16_t>(p.payload.size()))) == 0xFFFF;
    case Transport::kUdp: {
      if (p.udp.checksum == 0) return true;
      const auto segment = p.payload.first(p.udp.length);
      return OnesComplementSum(segment, PseudoHeaderSum(p.src, p.dst, p.protocol, p.udp.length)) == 0xFFFF;
    }
    case Transport::kIcmp:
      return OnesComplementSum(p.payload) == 0xFFFF;
    case Transport::kNone:
    case Transport::kUnsupported:
      return false;
  }
  return false;
}

}  // namespace strait::ip
