#include "runtime/netlink_reply.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace strait::runtime {

namespace {

static_assert(sizeof(nlmsghdr) == 16 && sizeof(nlmsgerr) == 20 && sizeof(rtmsg) == 12 && sizeof(nlattr) == 4);

constexpr std::size_t Align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Netlink headers are in host order; the addresses inside attributes are in network order.
template <class T>
T Load(std::span<const std::uint8_t> bytes, std::size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

std::uint32_t LoadBe32(std::span<const std::uint8_t> b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

// Calls fn(type, value) for each attribute in `attrs` ({u16 len, u16 type, value}, each aligned to 4). False when a
// length does not fit or fn refuses; the walk never leaves `attrs`.
template <class Fn>
bool ForEachAttribute(std::span<const std::uint8_t> attrs, Fn fn) {
  std::size_t at = 0;
  while (attrs.size() - at >= sizeof(nlattr)) {
    const auto a = Load<nlattr>(attrs, at);
    if (a.nla_len < sizeof(nlattr) || a.nla_len > attrs.size() - at) return false;
    if (!fn(static_cast<std::uint16_t>(a.nla_type & NLA_TYPE_MASK),
            attrs.subspan(at + sizeof(nlattr), a.nla_len - sizeof(nlattr)))) {
      return false;
    }
    at += Align4(a.nla_len);
    if (at > attrs.size()) break;  // padding of the last attribute may be absent
  }
  return true;
}

// The kernel's extended-ack text, if the error carries one (NLM_F_ACK_TLVS).
std::string_view ExtAckMessage(std::span<const std::uint8_t> body, std::uint16_t flags) {
  if ((flags & NLM_F_ACK_TLVS) == 0) return {};
  std::size_t tlv_at = sizeof(nlmsgerr);
  if ((flags & NLM_F_CAPPED) == 0) {
    // The whole request follows the error code; its own length says where the attributes start.
    const auto request = Load<nlmsghdr>(body, sizeof(int));
    if (request.nlmsg_len < sizeof(nlmsghdr) || request.nlmsg_len > body.size() - sizeof(int)) return {};
    tlv_at = Align4(sizeof(int) + request.nlmsg_len);
    if (tlv_at > body.size()) return {};
  }
  std::string_view text;
  ForEachAttribute(body.subspan(tlv_at), [&](std::uint16_t type, std::span<const std::uint8_t> value) {
    if (type == NLMSGERR_ATTR_MSG) {
      text = std::string_view(reinterpret_cast<const char*>(value.data()), value.size());
      while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
    }
    return true;
  });
  return text;
}

}  // namespace

NetlinkReply ParseNetlinkReply(std::span<const std::uint8_t> bytes) {
  NetlinkReply r;
  if (bytes.size() < sizeof(nlmsghdr)) return r;
  const auto h = Load<nlmsghdr>(bytes, 0);
  if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > bytes.size()) return r;
  r.type = h.nlmsg_type;
  r.flags = h.nlmsg_flags;
  r.seq = h.nlmsg_seq;
  r.pid = h.nlmsg_pid;
  const auto body = bytes.subspan(sizeof(nlmsghdr), h.nlmsg_len - sizeof(nlmsghdr));
  const std::size_t consumed = Align4(h.nlmsg_len) < bytes.size() ? Align4(h.nlmsg_len) : bytes.size();
  switch (h.nlmsg_type) {
    case NLMSG_ERROR: {
      // Even a capped error carries the request's header (sizeof(nlmsgerr)).
      if (body.size() < sizeof(nlmsgerr)) return r;
      const int error = Load<int>(body, 0);
      if (error > 0 || error == -2147483647 - 1) return r;  // the kernel sends 0 or -errno; -INT_MIN overflows
      r.kind = error == 0 ? NetlinkReply::Kind::kAck : NetlinkReply::Kind::kError;
      r.error = -error;
      if (error != 0) r.ext_ack = ExtAckMessage(body, h.nlmsg_flags);
      break;
    }
    case NLMSG_DONE: {
      // A dump that failed part-way ends with DONE carrying -errno.
      const int error = body.size() >= sizeof(int) ? Load<int>(body, 0) : 0;
      if (error > 0 || error == -2147483647 - 1) return r;
      r.kind = error == 0 ? NetlinkReply::Kind::kDone : NetlinkReply::Kind::kError;
      r.error = -error;
      break;
    }
    default:
      r.kind = NetlinkReply::Kind::kPayload;
      r.payload = body;
      break;
  }
  r.consumed = consumed;
  return r;
}

bool ParseRouteMessage(std::span<const std::uint8_t> payload, RouteInfo* out) {
  if (payload.size() < sizeof(rtmsg)) return false;
  const auto m = Load<rtmsg>(payload, 0);
  if (m.rtm_family != AF_INET || m.rtm_dst_len > 32) return false;
  RouteInfo route;
  route.prefix_len = m.rtm_dst_len;
  route.table = m.rtm_table;
  route.type = m.rtm_type;
  route.protocol = m.rtm_protocol;
  route.scope = m.rtm_scope;
  const bool ok = ForEachAttribute(
      payload.subspan(Align4(sizeof(rtmsg))), [&](std::uint16_t type, std::span<const std::uint8_t> value) {
        std::uint32_t* field = nullptr;
        switch (type) {
          case RTA_DST: field = &route.dst; break;
          case RTA_GATEWAY: field = &route.gateway; break;
          case RTA_PREFSRC: field = &route.pref_src; break;
          case RTA_OIF:
          case RTA_TABLE:
            if (value.size() != 4) return false;
            if (type == RTA_OIF) {
              route.ifindex = Load<std::int32_t>(value, 0);
            } else {
              route.table = Load<std::uint32_t>(value, 0);
            }
            return true;
          default: return true;  // RTA_PRIORITY, RTA_CACHEINFO, ...: not ours
        }
        if (value.size() != 4) return false;
        *field = LoadBe32(value);
        return true;
      });
  if (!ok) return false;
  *out = route;
  return true;
}

}  // namespace strait::runtime
