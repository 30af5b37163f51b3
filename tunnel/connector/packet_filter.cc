#include "tunnel/connector/packet_filter.h"

#include <algorithm>

#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/mss_clamp.h"
#include "tunnel/ip/tunnel_mtu.h"

namespace strait::connector {

std::string_view PacketDropName(PacketDrop d) {
  switch (d) {
    case PacketDrop::kMalformed: return "malformed";
    case PacketDrop::kSpoofedSource: return "spoofed_source";
    case PacketDrop::kTooBig: return "too_big";
    case PacketDrop::kToGateway: return "to_gateway";
    case PacketDrop::kPeerAddress: return "peer_address";
    case PacketDrop::kDeniedByPolicy: return "denied_by_policy";
  }
  return "unknown";
}

namespace {

// The rules' view of a parsed packet. ICMP types a device may send: echo requests and the errors its stack
// answers with; any other type maps to protocol 0, which no rule allows.
TunnelFlow FlowOf(const ip::Ipv4Packet& p) {
  TunnelFlow f;
  f.dst = p.dst;
  f.fragment = p.fragment_offset != 0;
  switch (p.protocol) {
    case ip::protocol::kTcp: f.protocol = tunnel_protocol::kTcp; break;
    case ip::protocol::kUdp: f.protocol = tunnel_protocol::kUdp; break;
    case ip::protocol::kIcmp: f.protocol = tunnel_protocol::kIcmp; break;
    default: return f;
  }
  if (p.transport == ip::Transport::kTcp) {
    f.has_port = true;
    f.port = p.tcp.dst_port;
  } else if (p.transport == ip::Transport::kUdp) {
    f.has_port = true;
    f.port = p.udp.dst_port;
  } else if (p.transport == ip::Transport::kIcmp) {
    const uint8_t t = p.icmp.type;
    constexpr uint8_t kTimeExceeded = 11;
    if (t != ip::icmp_type::kEchoRequest && t != ip::icmp_type::kDestinationUnreachable && t != kTimeExceeded) {
      f.protocol = 0;
    }
  }
  return f;
}

}  // namespace

PacketFilter::PacketFilter(const PacketFilterOptions& options)
    : options_(options),
      pool_mask_(ip::PrefixMask(static_cast<unsigned>(std::max(options.pool_prefix, 0)))),
      max_mss_(ip::MssForMtu(options.mtu)),
      icmp_tokens_(options.icmp_per_second) {}

FilterResult PacketFilter::Drop(PacketDrop d) {
  ++stats_.drops[static_cast<size_t>(d)];
  return FilterResult{false, d, 0};
}

FilterResult PacketFilter::DropAndAnswer(PacketDrop d, std::span<const uint8_t> packet, ip::IcmpErrorKind kind,
                                         uint64_t now_ms,
                                         std::span<uint8_t> answer) {
  FilterResult r = Drop(d);
  // Token bucket: icmp_per_second tokens a second, at most that many saved.
  const double rate = options_.icmp_per_second;
  if (now_ms > icmp_refill_ms_) {
    icmp_tokens_ = std::min(rate, icmp_tokens_ + rate * static_cast<double>(now_ms - icmp_refill_ms_) / 1000.0);
    icmp_refill_ms_ = now_ms;
  }
  if (icmp_tokens_ < 1.0) {
    ++stats_.icmp_limited;
    return r;
  }
  const uint16_t mtu = kind == ip::IcmpErrorKind::kFragmentationNeeded ? options_.mtu : 0;
  const ip::IcmpErrorResult e = ip::BuildIcmpError(packet, kind, options_.gateway, answer, mtu);
  if (!e.answered) return r;
  icmp_tokens_ -= 1.0;
  ++stats_.icmp_sent;
  r.answer_size = e.size;
  return r;
}

FilterResult PacketFilter::FromDevice(std::span<uint8_t> packet, uint32_t device_address, uint64_t now_ms,
                                      std::span<uint8_t> answer, const TunnelPolicy* policy) {
  const ip::ParsedIpv4 parsed = ip::ParseIpv4(packet);
  if (!parsed.ok) {
    ++stats_.malformed[static_cast<size_t>(parsed.drop)];
    return Drop(PacketDrop::kMalformed);
  }
  const ip::Ipv4Packet& p = parsed.packet;
  if (p.src != device_address) return Drop(PacketDrop::kSpoofedSource);
  if (p.total_length > options_.mtu) {
    if (p.dont_fragment) {
      return DropAndAnswer(PacketDrop::kTooBig, packet, ip::IcmpErrorKind::kFragmentationNeeded, now_ms, answer);
    }
    return Drop(PacketDrop::kTooBig);
  }
  if (p.dst == options_.gateway) return Drop(PacketDrop::kToGateway);
  constexpr ip::IcmpErrorKind prohibited = ip::IcmpErrorKind::kAdministrativelyProhibited;
  if (InPool(p.dst) && (policy == nullptr || !policy->device_to_device)) {
    return DropAndAnswer(PacketDrop::kPeerAddress, packet, prohibited, now_ms, answer);
  }
  if (!InPool(p.dst) && (policy == nullptr || policy->rules.Decide(FlowOf(p)) != TunnelDecision::kAllowed)) {
    return DropAndAnswer(PacketDrop::kDeniedByPolicy, packet, prohibited, now_ms, answer);
  }
  if (ip::ClampMss(packet, max_mss_) == ip::ClampResult::kClamped) ++stats_.mss_clamped;
  ++stats_.forwarded_from_devices;
  return FilterResult{true, PacketDrop::kMalformed, 0};
}

FilterResult PacketFilter::ToDevice(std::span<uint8_t> packet) {
  const ip::ParsedIpv4 parsed = ip::ParseIpv4(packet);
  if (!parsed.ok) {
    ++stats_.malformed[static_cast<size_t>(parsed.drop)];
    return Drop(PacketDrop::kMalformed);
  }
  if (ip::ClampMss(packet, max_mss_) == ip::ClampResult::kClamped) ++stats_.mss_clamped;
  ++stats_.forwarded_to_devices;
  return FilterResult{true, PacketDrop::kMalformed, 0};
}

}  // namespace strait::connector
