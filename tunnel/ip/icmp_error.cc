#include "tunnel/ip/icmp_error.h"

#include <algorithm>
#include <cassert>

#include "crypto/byte_reader.h"
#include "tunnel/ip/checksum.h"
#include "tunnel/ip/ipv4.h"

namespace strait::ip {
namespace {

inline constexpr size_t kIcmpErrorHeadersSize = kIpv4MinHeaderSize + kIcmpHeaderSize;  // 28
static_assert(kIcmpErrorHeadersSize + kIpv4MaxHeaderSize < kIcmpErrorMaxSize, "any IP header can be quoted whole");

bool InPrefix(uint32_t addr, uint32_t prefix, int bits) { return (addr >> (32 - bits)) == (prefix >> (32 - bits)); }

// ICMP types that are queries or informational (RFC 792, RFC 950, RFC 1256): answering them cannot start a loop
// of errors. Every other type is an error or unknown, and is never answered.
bool IsIcmpQuery(uint8_t type) {
  switch (type) {
    case 0:   // echo reply
    case 8:   // echo request
    case 9:   // router advertisement
    case 10:  // router solicitation
    case 13:  // timestamp
    case 14:  // timestamp reply
    case 15:  // information request
    case 16:  // information reply
    case 17:  // address mask request
    case 18:  // address mask reply
      return true;
    default:
      return false;
  }
}

bool Refuse(const Ipv4Packet& p, IcmpNoAnswer* why) {
  auto no = [&](IcmpNoAnswer r) {
    *why = r;
    return true;
  };
  if (p.fragment_offset != 0) return no(IcmpNoAnswer::kNotFirstFragment);
  if (p.transport == Transport::kIcmp && !IsIcmpQuery(p.icmp.type)) return no(IcmpNoAnswer::kIcmpError);
  if (p.src == 0) return no(IcmpNoAnswer::kSourceUnspecified);
  if (p.src == 0xFFFFFFFF) return no(IcmpNoAnswer::kSourceBroadcast);
  if (InPrefix(p.src, 0xE0000000, 4)) return no(IcmpNoAnswer::kSourceMulticast);
  if (InPrefix(p.src, 0xF0000000, 4)) return no(IcmpNoAnswer::kSourceReserved);
  if (InPrefix(p.src, 0x7F000000, 8)) return no(IcmpNoAnswer::kSourceLoopback);
  if (p.dst == 0xFFFFFFFF || InPrefix(p.dst, 0xE0000000, 4)) return no(IcmpNoAnswer::kDestinationNotUnicast);
  return false;
}

void PutU16(std::span<uint8_t> at, uint16_t v) {
  at[0] = static_cast<uint8_t>(v >> 8);
  at[1] = static_cast<uint8_t>(v);
}

}  // namespace

std::string_view IcmpNoAnswerName(IcmpNoAnswer r) {
  switch (r) {
    case IcmpNoAnswer::kNotParsed: return "not_parsed";
    case IcmpNoAnswer::kIcmpError: return "icmp_error";
    case IcmpNoAnswer::kNotFirstFragment: return "not_first_fragment";
    case IcmpNoAnswer::kSourceUnspecified: return "source_unspecified";
    case IcmpNoAnswer::kSourceBroadcast: return "source_broadcast";
    case IcmpNoAnswer::kSourceMulticast: return "source_multicast";
    case IcmpNoAnswer::kSourceReserved: return "source_reserved";
    case IcmpNoAnswer::kSourceLoopback: return "source_loopback";
    case IcmpNoAnswer::kDestinationNotUnicast: return "destination_not_unicast";
    case IcmpNoAnswer::kBufferTooSmall: return "buffer_too_small";
  }
  return "unknown";
}

IcmpErrorResult BuildIcmpError(std::span<const uint8_t> packet, IcmpErrorKind kind, uint32_t gateway,
                               std::span<uint8_t> out, uint16_t next_hop_mtu) {
  IcmpErrorResult result;
  const ParsedIpv4 parsed = ParseIpv4(packet);
  if (!parsed.ok) return result;  // kNotParsed
  const Ipv4Packet& p = parsed.packet;
  if (Refuse(p, &result.reason)) return result;

  // The quote: the offending header whole, then its payload as far as 576 bytes allow (the view ends at
  // total_length, so link padding is never quoted).
  const std::span<const uint8_t> quote =
      p.bytes.first(std::min(p.bytes.size(), kIcmpErrorMaxSize - kIcmpErrorHeadersSize));
  const size_t size = kIcmpErrorHeadersSize + quote.size();
  if (out.size() < size) {
    result.reason = IcmpNoAnswer::kBufferTooSmall;
    return result;
  }

  ByteWriter w(out.first(size));
  // IPv4 header (checksum filled in below).
  w.U8(0x45);
  w.U8(kIcmpErrorTos);
  w.U16(static_cast<uint16_t>(size));
  w.U16(0);                      // identification: unused in an atomic datagram
  w.U16(kIpv4FlagDontFragment);  // DF, offset 0
  w.U8(kIcmpErrorTtl);
  w.U8(protocol::kIcmp);
  w.U16(0);
  w.U32(gateway);
  w.U32(p.src);
  // ICMP Destination Unreachable (checksum filled in below).
  w.U8(icmp_type::kDestinationUnreachable);
  w.U8(static_cast<uint8_t>(kind));
  w.U16(0);
  w.U16(0);  // unused
  w.U16(kind == IcmpErrorKind::kFragmentationNeeded ? next_hop_mtu : uint16_t{0});
  w.Bytes(quote);
  assert(w.ok() && w.written() == size);  // `out` was checked to hold `size` bytes above

  const std::span<uint8_t> answer = out.first(size);
  PutU16(answer.subspan(kIpv4ChecksumOffset), InternetChecksum(answer.first(kIpv4MinHeaderSize)));
  const std::span<uint8_t> icmp = answer.subspan(kIpv4MinHeaderSize);
  PutU16(icmp.subspan(kIcmpChecksumOffset), InternetChecksum(icmp));
  result.answered = true;
  result.size = size;
  return result;
}

}  // namespace strait::ip
