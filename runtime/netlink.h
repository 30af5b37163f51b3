// RtNetlink: the few rtnetlink requests the IP tunnel needs to set up its TUN interface (docs/ip-tunnel.md §5, §6;
// docs/runtime.md "TUN devices and netlink"), over a plain NETLINK_ROUTE socket: no libnl, no `ip` commands.
// Setup path only; blocking.
//
// One request at a time: each is sent with NLM_F_ACK and a fresh sequence number, and the call returns when the
// kernel's answer to that number arrives. Every receive is bounded: one datagram of at most kRecvBufferSize bytes
// (a truncated one is an error, never a partial parse), at most kMaxStaleMessages messages that answer something
// else, a receive timeout (SO_RCVTIMEO), and at most max_dump_messages messages in a dump. Replies are decoded by
// the sans-I/O ParseNetlinkReply (netlink_reply.h).
//
// The socket belongs to the network namespace of the thread that called Open, for its whole life: a test or a
// daemon that switches namespaces with setns keeps configuring the namespace it opened in.
//
// Addresses are IPv4 in host order (the project's convention, as in tunnel/tunnel_control.h). Errors are
// SetupError{errno, text} with the request, its object and the kernel's text, e.g.
//   "RTM_NEWROUTE 10.20.0.0/16 dev strait0: File exists"
//   "RTM_NEWADDR 100.96.0.2/32 dev strait0: Permission denied"
// followed by the kernel's extended-ack message when it sent one ("... : Invalid argument (Nexthop has invalid
// gateway)"). Not thread-safe: one thread at a time per RtNetlink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/netlink_reply.h"
#include "runtime/setup_error.h"

namespace strait::runtime {

struct RtNetlinkOptions {
  int receive_timeout_ms = 5000;          // a kernel answer that does not come within this is an error
  std::size_t max_dump_messages = 65536;  // ListRoutes stops with an error beyond this many messages
};

class RtNetlink {
 public:
  static constexpr std::size_t kRecvBufferSize = 32768;  // the kernel never builds a dump datagram larger than 32 KiB
  static constexpr int kMaxStaleMessages = 64;            // replies to other sequence numbers skipped per request
  static constexpr std::uint32_t kMainTable = 254;        // RT_TABLE_MAIN

  // socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), bound with a kernel-assigned port id; asks for
  // extended acks and capped errors (both optional: older kernels work without them). [any]
  static SetupResult<RtNetlink> Open(const RtNetlinkOptions& options = {});

  RtNetlink() = default;
  RtNetlink(RtNetlink&& other) noexcept;
  RtNetlink& operator=(RtNetlink&& other) noexcept;
  RtNetlink(const RtNetlink&) = delete;
  RtNetlink& operator=(const RtNetlink&) = delete;
  ~RtNetlink();

  // RTM_NEWLINK with IFF_UP in ifi_flags and ifi_change ("ip link set dev X up").
  SetupResult<bool> SetLinkUp(int ifindex);
  // RTM_NEWLINK with IFLA_MTU ("ip link set dev X mtu N").
  SetupResult<bool> SetMtu(int ifindex, std::uint32_t mtu);
  // RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL: IFA_LOCAL = address; IFA_ADDRESS = peer when peer != 0 (a
  // point-to-point address, "ip addr add A peer P"), else address; IFA_BROADCAST = broadcast when != 0. No
  // broadcast is derived: a /32 on a TUN needs none. Adding an address that is there already: "File exists".
  SetupResult<bool> AddAddress(int ifindex, std::uint32_t address, std::uint8_t prefix_len, std::uint32_t peer = 0,
                               std::uint32_t broadcast = 0);
  // RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL: a unicast link-scope route "prefix/len dev X" (no gateway: the TUN is
  // point-to-point) with protocol static, in `table` (RTA_TABLE, so tables above 255 work). Host bits of prefix
  // must be zero (the kernel says "Invalid prefix for given prefix length" otherwise).
  SetupResult<bool> AddRoute(int ifindex, std::uint32_t prefix, std::uint8_t prefix_len,
                             std::uint32_t table = kMainTable);
  // RTM_DELROUTE of the route AddRoute made. A route that is not there: "No such process" (ESRCH, the kernel's).
  SetupResult<bool> DeleteRoute(int ifindex, std::uint32_t prefix, std::uint8_t prefix_len,
                                std::uint32_t table = kMainTable);
  // RTM_GETROUTE dump of every IPv4 route in every table, filtered to those whose RTA_OIF is ifindex (the local
  // and broadcast routes of the interface's addresses included). For tests and diagnostics.
  SetupResult<std::vector<RouteInfo>> ListRoutes(int ifindex);

  // Requests whose answer came with another sequence number (skipped), since Open.
  std::uint64_t stale_replies() const { return stale_replies_; }

 private:
  // Sends one request (header seq/pid filled here) and waits for its ack or error; `what` prefixes the error.
  SetupResult<bool> Request(std::span<std::uint8_t> message, const std::string& what);
  // Receives one datagram into buf_; returns its length.
  SetupResult<std::size_t> ReceiveDatagram(const std::string& what);

  int fd_ = -1;
  std::uint32_t seq_ = 0;
  std::uint32_t port_id_ = 0;
  std::uint64_t stale_replies_ = 0;
  RtNetlinkOptions options_;
  std::vector<std::uint8_t> buf_;  // kRecvBufferSize, allocated once at Open
};

// "10.20.0.0/16" from a host-order address and a prefix length (for messages and tests).
std::string Ipv4PrefixText(std::uint32_t address, std::uint8_t prefix_len);

}  // namespace strait::runtime
