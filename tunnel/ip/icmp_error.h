// ICMP errors the tunnel gateway sends back to a device or a host that sent a packet it will not carry
// (docs/ip-packets.md, "ICMP errors"): Destination Unreachable (RFC 792) with
//   code 4  fragmentation needed and DF set, carrying the next-hop MTU (RFC 1191 §4): the packet is above the
//           tunnel MTU; the sender lowers its path MTU and resends;
//   code 13 communication administratively prohibited (RFC 1812 §5.2.7.1): policy refused the destination;
//   code 1  host unreachable: no route (no session, no connector) to the destination.
//
// The answer (written into the caller's buffer, nothing allocated):
//   IPv4 header  20 bytes: TOS 0xC0 (precedence 6, Internet control, as RFC 1812 §4.3.2.5 asks of routers' ICMP),
//                ID 0 with DF set (an atomic datagram, RFC 6864: no state needed for the ID), TTL 64,
//                protocol 1, source = the gateway address given, destination = the offending packet's source.
//   ICMP header  8 bytes: type 3, the code, checksum, then 16 unused bits and the next-hop MTU (code 4) or 0.
//   quote        the offending packet's IP header (options included) and as many of its bytes after it as keep
//                the whole answer within 576 bytes (RFC 1812 §4.3.2.3; every IPv4 host accepts 576, RFC 791).
//
// Never answered (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7), with the reason named: a packet that does not parse; an ICMP
// error, or any ICMP type not known to be a query (only echo, timestamp, information, address mask and router
// messages are answered, so errors never answer errors); a non-first fragment; a source that names no single
// host (0.0.0.0, 255.255.255.255, 224/4 multicast, 240/4 reserved, 127/8 loopback); a destination that is
// broadcast or multicast (the packet was not for one host).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strait::ip {

inline constexpr size_t kIcmpErrorMaxSize = 576;  // RFC 1812 §4.3.2.3
inline constexpr uint8_t kIcmpErrorTtl = 64;
inline constexpr uint8_t kIcmpErrorTos = 0xC0;

enum class IcmpErrorKind : uint8_t {
  kFragmentationNeeded = 4,       // type 3 code 4, with the next-hop MTU
  kAdministrativelyProhibited = 13,  // type 3 code 13
  kHostUnreachable = 1,           // type 3 code 1
};

// Why no answer was built; IcmpNoAnswerName gives each a stable snake_case name for counters.
enum class IcmpNoAnswer : uint8_t {
  kNotParsed,              // the offending packet did not pass ParseIpv4
  kIcmpError,              // it is an ICMP error, or an ICMP type not known to be a query
  kNotFirstFragment,       // it is a fragment at a non-zero offset
  kSourceUnspecified,      // source 0.0.0.0
  kSourceBroadcast,        // source 255.255.255.255
  kSourceMulticast,        // source in 224.0.0.0/4
  kSourceReserved,         // source in 240.0.0.0/4 (but the broadcast address)
  kSourceLoopback,         // source in 127.0.0.0/8
  kDestinationNotUnicast,  // destination 255.255.255.255 or 224.0.0.0/4
  kBufferTooSmall,         // `out` cannot hold the answer (kIcmpErrorMaxSize always can)
};
inline constexpr size_t kIcmpNoAnswerCount = 10;
std::string_view IcmpNoAnswerName(IcmpNoAnswer r);

struct IcmpErrorResult {
  bool answered = false;
  IcmpNoAnswer reason = IcmpNoAnswer::kNotParsed;  // when !answered
  size_t size = 0;                                 // bytes of `out` written, when answered
};

// Builds the ICMP error answering `packet` (one IPv4 packet as ParseIpv4 takes it) into `out`, from `gateway` (host
// order). `next_hop_mtu` is used by kFragmentationNeeded only. Writes nothing to `out` when it does not answer.
// Never reads outside `packet` or writes outside `out`; never allocates; any thread.
IcmpErrorResult BuildIcmpError(std::span<const uint8_t> packet, IcmpErrorKind kind, uint32_t gateway,
                               std::span<uint8_t> out, uint16_t next_hop_mtu = 0);

}  // namespace strait::ip
