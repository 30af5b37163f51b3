// The sans-I/O half of the runtime's rtnetlink client (netlink.h): bytes the kernel sent in, one decoded message
// out. No sockets, no allocation; fuzzed by fuzz/netlink_reply_fuzzer.cc.
//
// A netlink datagram holds one or more messages, each aligned to 4 bytes:
//
//   0          4        6         8       12      16
//   +----------+--------+---------+-------+-------+----------------- - -
//   | len (LE) | type   | flags   | seq   | pid   | payload (len - 16 bytes)
//   +----------+--------+---------+-------+-------+----------------- - -
//   NLMSG_ERROR payload: int32 error (0 = ack, -errno = failure), the request's header (+ its payload unless
//   NLM_F_CAPPED), then, with NLM_F_ACK_TLVS, attributes: NLMSGERR_ATTR_MSG is the kernel's extended-ack text.
//   NLMSG_DONE ends a dump. Anything else is a payload (RTM_NEWROUTE ... for our dumps).
//
// Every length is checked against the bytes present before it is used; a message that does not fit is kMalformed
// and the caller stops reading the datagram (its framing can no longer be trusted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strait::runtime {

struct NetlinkReply {
  enum class Kind : std::uint8_t {
    kAck,        // NLMSG_ERROR with error 0
    kError,      // NLMSG_ERROR with error < 0: `error` holds the positive errno, `ext_ack` the kernel's text if any
    kDone,       // NLMSG_DONE: the end of a dump
    kPayload,    // any other type: `payload` is the message body (e.g. a struct rtmsg and its attributes)
    kMalformed,  // a length that does not fit, an NLMSG_ERROR too short for its error code, a positive error
  };
  Kind kind = Kind::kMalformed;
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint32_t seq = 0;  // for kAck/kError: the sequence number of the request it answers
  std::uint32_t pid = 0;
  int error = 0;
  std::string_view ext_ack;              // points into the input; empty when the kernel sent none
  std::span<const std::uint8_t> payload;  // points into the input
  std::size_t consumed = 0;              // bytes to skip to the next message (aligned; <= input size); 0 if kMalformed
};

// Decodes the message at the front of `bytes` (a received datagram, or what is left of it). [any]
NetlinkReply ParseNetlinkReply(std::span<const std::uint8_t> bytes);

// An IPv4 route as RTM_NEWROUTE describes it. Addresses in host order (the project's convention).
struct RouteInfo {
  std::uint32_t dst = 0;
  std::uint8_t prefix_len = 0;
  std::uint32_t table = 0;      // RTA_TABLE when present, else rtm_table
  std::int32_t ifindex = 0;     // RTA_OIF; 0 when absent
  std::uint32_t gateway = 0;    // RTA_GATEWAY; 0 when absent
  std::uint32_t pref_src = 0;   // RTA_PREFSRC; 0 when absent
  std::uint8_t type = 0;        // RTN_UNICAST, RTN_LOCAL, ...
  std::uint8_t protocol = 0;    // RTPROT_*
  std::uint8_t scope = 0;       // RT_SCOPE_*
};

// Decodes an RTM_NEWROUTE payload (struct rtmsg then attributes). False when the payload is not an AF_INET route or
// an attribute length does not fit; unknown attributes are skipped by length. [any]
bool ParseRouteMessage(std::span<const std::uint8_t> payload, RouteInfo* out);

}  // namespace strait::runtime
