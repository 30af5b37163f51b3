// RtNetlink: the few rtnetlink requests the IP tunnel needs to set up its TUN interface (docs/ip-tunnel.md §5, §6;
// docs/runtime.md "TUN devices and netlink"), over a plain NETLINK_ROUTE socket: no libnl, no `ip` commands.
// Setup path only; blocking.
//
// One request at a time: each is sent with NLM_F_ACK and a fresh sequence number, and the call returns when the
// kernel's answer to that number arrives. Every receive is bounded: one datagram of at most kRecvBufferSize bytes
// (a truncated one is an error, never a partial parse), at most kMaxSkippedMessages messages per request that are
// not its answer (replies to other numbers, datagrams not from the kernel), a receive timeout (SO_RCVTIMEO), and
// at most max_dump_messages messages in a dump. Replies are decoded by the sans-I/O ParseNetlinkReply
// (netlink_reply.h).
//
// A call that fails for any reason but the kernel's own error reply (a timeout, a malformed or oversized reply,
// a dump beyond its bound) may leave replies unread on the socket: the RtNetlink is then unusable and every later
// call fails with "netlink socket abandoned after an earlier failure; open a new one". Kernel errors (File exists,
// ...) leave it usable.
//
// The socket belongs to the network namespace of the thread that called Open, for its whole life: a test or a
// daemon that switches namespaces with setns keeps configuring the namespace it opened in.
//
// Each call returns true (SetupResult<bool>, as the runtime's other setup calls) or the error. Addresses are IPv4
// in host order (the project's convention, as in tunnel/tunnel_control.h). Errors are
// SetupError{errno, text} with the request, its object and the kernel's text, e.g.
//   "RTM_NEWROUTE 10.20.0.0/16 dev strait0: File exists"
//   "RTM_NEWADDR 100.96.0.2/32 dev strait0: Permission denied"
// followed by the kernel's extended-ack message when it sent one ("... : Invalid argument (Invalid prefix for
// given prefix length)"). The interface name in a message is looked up in the calling thread's namespace (else
// "ifindex N"). Not thread-safe: one thread at a time per RtNetlink.
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
  static constexpr int kMaxSkippedMessages = 64;          // messages that are not the answer, per request
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
  // RTM_DELADDR of the address AddAddress made (same address, prefix and peer). One that is not there:
  // "Cannot assign requested address" (EADDRNOTAVAIL, the kernel's).
  SetupResult<bool> DeleteAddress(int ifindex, std::uint32_t address, std::uint8_t prefix_len, std::uint32_t peer = 0);
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

  // Messages skipped because they answered another request or did not come from the kernel, since Open.
  std::uint64_t stale_replies() const { return stale_replies_; }

 private:
  // Fills in the sequence number, sends; returns the number.
  SetupResult<std::uint32_t> Send(std::span<std::uint8_t> message, const std::string& what);
  // Sends one request and waits for its ack or error; `what` prefixes the error.
  SetupResult<bool> Request(std::span<std::uint8_t> message, const std::string& what);
  // Reads the kernel's messages until `answer` has what request `seq` asked for. Each message of that request goes
  // to answer(reply), which returns nullopt to read on or the result; a message of another request is counted and
  // skipped (at most kMaxSkippedMessages); a malformed one abandons the socket.
  template <class Answer>
  SetupResult<bool> ReadAnswers(std::uint32_t seq, const std::string& what, Answer&& answer);
  // Receives one datagram from the kernel into buf_; returns its length. `skipped` counts toward the request's
  // bound.
  SetupResult<std::size_t> ReceiveDatagram(const std::string& what, int* skipped);
  // Marks the socket unusable (see above) and returns the error.
  SetupError Abandon(SetupError error);

  int fd_ = -1;
  std::uint32_t seq_ = 0;
  std::uint32_t port_id_ = 0;
  std::uint64_t stale_replies_ = 0;
  bool abandoned_ = false;  // a failed call may have left replies unread
  RtNetlinkOptions options_;
  std::vector<std::uint8_t> buf_;  // kRecvBufferSize, allocated once at Open
};

// "10.20.0.0/16" from a host-order address and a prefix length (for messages and tests).
std::string Ipv4PrefixText(std::uint32_t address, std::uint8_t prefix_len);

}  // namespace strait::runtime
