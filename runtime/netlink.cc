#include "runtime/netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace strait::runtime {

namespace {

constexpr std::size_t Align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// A request under construction: nlmsghdr, one fixed struct, attributes; each part aligned to 4 bytes.
// nlmsg_len is kept current so the bytes are a complete message at every step.
class RequestBuilder {
 public:
  RequestBuilder(std::uint16_t type, std::uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    Append(&h, sizeof h);
  }
  template <class T>
  void Fixed(const T& body) { Append(&body, sizeof body); }
  void AttrU32(std::uint16_t type, std::uint32_t value) { Attr(type, &value, sizeof value); }
  // An IPv4 address attribute: host order in, network order on the wire.
  void AttrIpv4(std::uint16_t type, std::uint32_t address) {
    const std::uint8_t be[4] = {static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
                                static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
    Attr(type, be, sizeof be);
  }
  std::span<std::uint8_t> bytes() { return bytes_; }

 private:
  void Attr(std::uint16_t type, const void* value, std::size_t size) {
    const nlattr a{static_cast<std::uint16_t>(sizeof(nlattr) + size), type};
    Append(&a, sizeof a);
    Append(value, size);
  }
  void Append(const void* p, std::size_t size) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + Align4(size), 0);
    std::memcpy(bytes_.data() + at, p, size);
    const auto len = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.data(), &len, sizeof len);  // nlmsghdr.nlmsg_len is the first field
  }
  std::vector<std::uint8_t> bytes_;
};

std::string DeviceText(int ifindex) {
  char name[IFNAMSIZ] = {};
  if (ifindex > 0 && if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr) return name;
  return "ifindex " + std::to_string(ifindex);
}

SetupError KernelError(const std::string& what, const NetlinkReply& reply) {
  std::string text = what + ": " + std::strerror(reply.error);
  if (!reply.ext_ack.empty()) text += " (" + std::string(reply.ext_ack) + ")";
  return SetupError{reply.error, std::move(text)};
}

rtmsg RouteHeader(std::uint8_t prefix_len, std::uint32_t table, std::uint8_t scope) {
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_dst_len = prefix_len;
  r.rtm_table = table < 256 ? static_cast<std::uint8_t>(table) : std::uint8_t{RT_TABLE_UNSPEC};  // RTA_TABLE has the full value
  r.rtm_protocol = RTPROT_STATIC;
  r.rtm_scope = scope;
  r.rtm_type = RTN_UNICAST;
  return r;
}

}  // namespace

std::string Ipv4PrefixText(std::uint32_t address, std::uint8_t prefix_len) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff) + "/" +
         std::to_string(prefix_len);
}

SetupResult<RtNetlink> RtNetlink::Open(const RtNetlinkOptions& options) {
  RtNetlink nl;
  nl.options_ = options;
  nl.fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl.fd_ < 0) {
    const int e = errno;
    return SetupError{e, std::string("socket NETLINK_ROUTE: ") + std::strerror(e)};
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a port id
  if (::bind(nl.fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    const int e = errno;
    return SetupError{e, std::string("bind NETLINK_ROUTE: ") + std::strerror(e)};
  }
  socklen_t len = sizeof local;
  if (::getsockname(nl.fd_, reinterpret_cast<sockaddr*>(&local), &len) == 0) nl.port_id_ = local.nl_pid;
  const int one = 1;
  // Optional: the kernel's own words in errors, and errors without a copy of our request. Kernels before 4.12 /
  // 4.3 lack them and still work.
  (void)::setsockopt(nl.fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)::setsockopt(nl.fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  const timeval timeout{options.receive_timeout_ms / 1000, (options.receive_timeout_ms % 1000) * 1000};
  if (::setsockopt(nl.fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    const int e = errno;
    return SetupError{e, std::string("setsockopt SO_RCVTIMEO on NETLINK_ROUTE: ") + std::strerror(e)};
  }
  nl.buf_.resize(kRecvBufferSize);
  return nl;
}

RtNetlink::RtNetlink(RtNetlink&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      seq_(other.seq_),
      port_id_(other.port_id_),
      stale_replies_(other.stale_replies_),
      abandoned_(other.abandoned_),
      options_(other.options_),
      buf_(std::move(other.buf_)) {}

RtNetlink& RtNetlink::operator=(RtNetlink&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    seq_ = other.seq_;
    port_id_ = other.port_id_;
    stale_replies_ = other.stale_replies_;
    abandoned_ = other.abandoned_;
    options_ = other.options_;
    buf_ = std::move(other.buf_);
  }
  return *this;
}

RtNetlink::~RtNetlink() {
  if (fd_ >= 0) ::close(fd_);
}

SetupError RtNetlink::Abandon(SetupError error) {
  abandoned_ = true;
  return error;
}

SetupResult<std::size_t> RtNetlink::ReceiveDatagram(const std::string& what, int* skipped) {
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    // MSG_TRUNC: the return value is the datagram's real length, so a datagram larger than buf_ is seen as such.
    const ssize_t n = ::recvfrom(fd_, buf_.data(), buf_.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                                 &from_len);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        return Abandon(SetupError{ETIMEDOUT, what + ": no answer from the kernel within " +
                                                 std::to_string(options_.receive_timeout_ms) + " ms"});
      }
      return Abandon(SetupError{e, what + ": recv: " + std::strerror(e)});
    }
    if (static_cast<std::size_t>(n) > buf_.size()) {
      return Abandon(SetupError{EMSGSIZE, what + ": reply of " + std::to_string(n) + " bytes exceeds the " +
                                              std::to_string(buf_.size()) + "-byte buffer"});
    }
    if (from.nl_pid == 0) return static_cast<std::size_t>(n);
    // Not from the kernel (another process sending to our port id): ignore it, within the request's bound.
    ++stale_replies_;
    if (++*skipped > kMaxSkippedMessages) {
      return Abandon(SetupError{EPROTO, what + ": more than " + std::to_string(kMaxSkippedMessages) +
                                            " messages that are not the answer"});
    }
  }
}

SetupResult<std::uint32_t> RtNetlink::Send(std::span<std::uint8_t> message, const std::string& what) {
  if (abandoned_) {
    return SetupError{EBADFD, what + ": netlink socket abandoned after an earlier failure; open a new one"};
  }
  const std::uint32_t seq = ++seq_;
  std::memcpy(message.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    const int e = errno;
    return SetupError{e, what + ": send: " + std::strerror(e)};
  }
  return seq;
}

template <class Answer>
SetupResult<bool> RtNetlink::ReadAnswers(std::uint32_t seq, const std::string& what, Answer&& answer) {
  int skipped = 0;
  for (;;) {
    auto got = ReceiveDatagram(what, &skipped);
    if (!got.ok()) return got.error();
    std::span<const std::uint8_t> rest(buf_.data(), *got);
    while (!rest.empty()) {
      const NetlinkReply reply = ParseNetlinkReply(rest);
      if (reply.kind == NetlinkReply::Kind::kMalformed) {
        return Abandon(SetupError{EPROTO, what + ": malformed reply from the kernel"});
      }
      rest = rest.subspan(reply.consumed);
      if (reply.seq == seq) {
        if (std::optional<SetupResult<bool>> done = answer(reply)) return std::move(*done);
        continue;
      }
      // An answer to an earlier request.
      ++stale_replies_;
      if (++skipped > kMaxSkippedMessages) {
        return Abandon(SetupError{EPROTO, what + ": more than " + std::to_string(kMaxSkippedMessages) +
                                              " messages that are not the answer"});
      }
    }
  }
}

SetupResult<bool> RtNetlink::Request(std::span<std::uint8_t> message, const std::string& what) {
  auto sent = Send(message, what);
  if (!sent.ok()) return sent.error();
  return ReadAnswers(*sent, what, [&](const NetlinkReply& reply) -> std::optional<SetupResult<bool>> {
    if (reply.kind == NetlinkReply::Kind::kAck) return SetupResult<bool>(true);
    if (reply.kind == NetlinkReply::Kind::kError) return SetupResult<bool>(KernelError(what, reply));
    return std::nullopt;  // a payload these requests do not produce
  });
}

SetupResult<bool> RtNetlink::SetLinkUp(int ifindex) {
  RequestBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  b.Fixed(ifi);
  return Request(b.bytes(), "RTM_NEWLINK up dev " + DeviceText(ifindex));
}

SetupResult<bool> RtNetlink::SetMtu(int ifindex, std::uint32_t mtu) {
  RequestBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  b.Fixed(ifi);
  b.AttrU32(IFLA_MTU, mtu);
  return Request(b.bytes(), "RTM_NEWLINK mtu " + std::to_string(mtu) + " dev " + DeviceText(ifindex));
}

SetupResult<bool> RtNetlink::AddAddress(int ifindex, std::uint32_t address, std::uint8_t prefix_len,
                                        std::uint32_t peer, std::uint32_t broadcast) {
  const std::string what = "RTM_NEWADDR " + Ipv4PrefixText(address, prefix_len) +
                           (peer != 0 ? " peer " + Ipv4PrefixText(peer, 32) : std::string()) + " dev " +
                           DeviceText(ifindex);
  if (prefix_len > 32) return SetupError{EINVAL, what + ": prefix length above 32"};
  RequestBuilder b(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
  b.Fixed(ifa);
  b.AttrIpv4(IFA_LOCAL, address);
  b.AttrIpv4(IFA_ADDRESS, peer != 0 ? peer : address);
  if (broadcast != 0) b.AttrIpv4(IFA_BROADCAST, broadcast);
  return Request(b.bytes(), what);
}

SetupResult<bool> RtNetlink::DeleteAddress(int ifindex, std::uint32_t address, std::uint8_t prefix_len,
                                           std::uint32_t peer) {
  const std::string what = "RTM_DELADDR " + Ipv4PrefixText(address, prefix_len) + " dev " + DeviceText(ifindex);
  if (prefix_len > 32) return SetupError{EINVAL, what + ": prefix length above 32"};
  RequestBuilder b(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
  b.Fixed(ifa);
  b.AttrIpv4(IFA_LOCAL, address);
  b.AttrIpv4(IFA_ADDRESS, peer != 0 ? peer : address);
  return Request(b.bytes(), what);
}

SetupResult<bool> RtNetlink::AddRoute(int ifindex, std::uint32_t prefix, std::uint8_t prefix_len,
                                      std::uint32_t table) {
  const std::string what = "RTM_NEWROUTE " + Ipv4PrefixText(prefix, prefix_len) + " dev " + DeviceText(ifindex);
  if (prefix_len > 32) return SetupError{EINVAL, what + ": prefix length above 32"};
  RequestBuilder b(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  b.Fixed(RouteHeader(prefix_len, table, RT_SCOPE_LINK));
  if (prefix_len > 0) b.AttrIpv4(RTA_DST, prefix);
  b.AttrU32(RTA_TABLE, table);
  b.AttrU32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
  return Request(b.bytes(), what);
}

SetupResult<bool> RtNetlink::DeleteRoute(int ifindex, std::uint32_t prefix, std::uint8_t prefix_len,
                                         std::uint32_t table) {
  const std::string what = "RTM_DELROUTE " + Ipv4PrefixText(prefix, prefix_len) + " dev " + DeviceText(ifindex);
  if (prefix_len > 32) return SetupError{EINVAL, what + ": prefix length above 32"};
  RequestBuilder b(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK);
  // RT_SCOPE_NOWHERE matches a route of any scope (as `ip route del` does).
  b.Fixed(RouteHeader(prefix_len, table, RT_SCOPE_NOWHERE));
  if (prefix_len > 0) b.AttrIpv4(RTA_DST, prefix);
  b.AttrU32(RTA_TABLE, table);
  b.AttrU32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
  return Request(b.bytes(), what);
}

SetupResult<std::vector<RouteInfo>> RtNetlink::ListRoutes(int ifindex) {
  const std::string what = "RTM_GETROUTE dump for dev " + DeviceText(ifindex);
  RequestBuilder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
  rtmsg r{};
  r.rtm_family = AF_INET;
  b.Fixed(r);
  auto sent = Send(b.bytes(), what);
  if (!sent.ok()) return sent.error();
  std::vector<RouteInfo> routes;
  std::size_t messages = 0;
  bool interrupted = false;
  auto done = ReadAnswers(*sent, what, [&](const NetlinkReply& reply) -> std::optional<SetupResult<bool>> {
    if (++messages > options_.max_dump_messages) {
      return SetupResult<bool>(Abandon(SetupError{
          E2BIG, what + ": more than " + std::to_string(options_.max_dump_messages) + " messages"}));
    }
    // The routes changed while the kernel was dumping them: the list may be inconsistent.
    if ((reply.flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
    switch (reply.kind) {
      case NetlinkReply::Kind::kDone:
        if (interrupted) {
          return SetupResult<bool>(SetupError{EAGAIN, what + ": interrupted by a concurrent change; try again"});
        }
        return SetupResult<bool>(true);
      case NetlinkReply::Kind::kError: return SetupResult<bool>(KernelError(what, reply));
      case NetlinkReply::Kind::kPayload: {
        RouteInfo route;
        if (reply.type == RTM_NEWROUTE && ParseRouteMessage(reply.payload, &route) && route.ifindex == ifindex) {
          routes.push_back(route);
        }
        return std::nullopt;
      }
      default: return std::nullopt;  // an ack in a dump: the kernel sends none without NLM_F_ACK
    }
  });
  if (!done.ok()) return done.error();
  return routes;
}

}  // namespace strait::runtime
