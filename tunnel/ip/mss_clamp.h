// TCP MSS clamping for the IP tunnel (docs/ip-packets.md, "The clamp"). A TCP connection through the tunnel must not
// send segments that make IP packets larger than the tunnel MTU: each side announces the largest segment it takes
// in the MSS option of its SYN, so lowering that option, in both directions, keeps both sides' segments small
// (RFC 879, RFC 6691) without relying on ICMP "fragmentation needed" reaching the sender.
//
// Rule: a TCP SYN (with or without ACK) whose MSS option is above `max_mss` gets `max_mss` instead, in place, and
// its TCP checksum is updated incrementally (RFC 1624), so a checksum that verified still verifies and one that did
// not still does not. Every MSS option in the SYN is clamped (stacks differ on which of two they use).
// A SYN without an MSS option is left alone: the peer then assumes 536 (RFC 9293 §3.7.1), below any tunnel MTU
// we accept (MssForMtu(kMinTunnelMtu) = 536, tunnel_mtu.h), so adding one could only raise it.
// The options are walked safely: EOL ends the list, NOP is one byte, every other option needs a length byte of
// at least 2 that stays within the header, and an MSS option must have length 4. A malformed list leaves the packet
// untouched and says so.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace strait::ip {

enum class ClampResult : uint8_t {
  kClamped,           // an MSS option above max_mss was lowered; the TCP checksum was updated
  kWithinLimit,       // SYN whose MSS options are all at or below max_mss: untouched
  kNoMssOption,       // SYN without an MSS option: untouched (the peer assumes 536)
  kNotSyn,            // TCP without SYN: untouched
  kNotTcp,            // another protocol, or a fragment without the TCP header: untouched
  kNotParsed,         // the packet did not pass ParseIpv4: untouched
  kMalformedOptions,  // the SYN's option list is malformed: untouched
};
inline constexpr size_t kClampResultCount = 7;
std::string_view ClampResultName(ClampResult r);

// The option kinds the walk knows (RFC 9293 §3.2).
inline constexpr uint8_t kTcpOptionEnd = 0;
inline constexpr uint8_t kTcpOptionNop = 1;
inline constexpr uint8_t kTcpOptionMss = 2;
inline constexpr uint8_t kTcpOptionMssLength = 4;

// Clamps `packet` (one whole IPv4 packet, as ParseIpv4 takes it) as described above. Writes only the MSS value(s)
// and the TCP checksum, and only when it returns kClamped. Parses the packet itself (the IPv4 header checksum is
// verified). Never reads or writes outside `packet`, never allocates; any thread.
ClampResult ClampMss(std::span<uint8_t> packet, uint16_t max_mss);

}  // namespace strait::ip
