// PacketFilter: what the connector does with each IPv4 packet of a device's tunnel (docs/ip-tunnel.md §2), without
// I/O. The caller reads and writes the TUN and the sessions; this decides and edits in place.
//
//   FromDevice(packet, device_address, now, answer)     device -> corp, in this order:
//     parse (tunnel/ip)                 malformed         -> drop (counted by ip::DropReason)
//     source != the device's address    spoofed_source    -> drop, no answer
//     larger than the MTU               too_big           -> drop; DF: ICMP fragmentation needed (next-hop MTU)
//     to the gateway                    to_gateway        -> drop (nothing listens there)
//     to another tunnel address         peer_address      -> drop + ICMP administratively prohibited, unless
//                                                            the device's policy has device_to_device
//     the policy's rules (TunnelRules)  denied_by_policy  -> drop + ICMP administratively prohibited
//     TCP SYN                           MSS clamped to mtu - 40, then forward
//   ToDevice(packet)                                    corp -> device: parse (malformed -> drop), clamp, forward
//
// ICMP answers go back to the device (the caller seals them like any packet to it); at most `icmp_per_second` a
// second over all devices (a token bucket, burst of the same size), the rest counted as icmp_limited. ip::
// BuildIcmpError already refuses to answer ICMP errors, fragments and odd sources.
// Not thread-safe: the connector's loop owns it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tunnel/connector/policy.h"
#include "tunnel/connector/tunnel_rules.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"

namespace strait::connector {

enum class PacketDrop : uint8_t {
  kMalformed,       // ip::ParseIpv4 refused it (the reason is counted apart)
  kSpoofedSource,   // a device sent a packet whose source is not its tunnel address
  kTooBig,          // above the tunnel MTU
  kToGateway,       // addressed to the connector's own tunnel address
  kPeerAddress,     // addressed to another device's tunnel address (device_to_device off)
  kDeniedByPolicy,  // the tunnel rules say no
};
inline constexpr size_t kPacketDropCount = 6;
std::string_view PacketDropName(PacketDrop d);  // "malformed", "spoofed_source", ...

struct PacketFilterOptions {
  uint32_t pool_network = 0;  // host order
  int pool_prefix = 32;
  uint32_t gateway = 0;
  uint16_t mtu = 1420;
  uint32_t icmp_per_second = 100;
};

struct PacketFilterStats {
  std::array<uint64_t, kPacketDropCount> drops{};
  std::array<uint64_t, ip::kDropReasonCount> malformed{};  // by ip::DropReason
  uint64_t forwarded_from_devices = 0;
  uint64_t forwarded_to_devices = 0;
  uint64_t mss_clamped = 0;
  uint64_t icmp_sent = 0;
  uint64_t icmp_limited = 0;  // answers the rate limit suppressed
};

struct FilterResult {
  bool forward = false;
  PacketDrop drop = PacketDrop::kMalformed;  // when !forward
  size_t answer_size = 0;                    // > 0: an ICMP error in `answer` to send to the device
};

class PacketFilter {
 public:
  explicit PacketFilter(const PacketFilterOptions& options);

  // `answer` needs ip::kIcmpErrorMaxSize bytes. `now_ms`: any monotonic clock (the ICMP rate limit). `policy`: the
  // sending device's policy's [tunnel] table, read per packet (the connector's PolicySet gives each device its own
  // and a control-plane change applies to the next packet): its rules and device_to_device. nullptr: every flow
  // out of the pool is denied and no peer address is reachable.
  FilterResult FromDevice(std::span<uint8_t> packet, uint32_t device_address, uint64_t now_ms,
                          std::span<uint8_t> answer, const TunnelPolicy* policy);
  FilterResult ToDevice(std::span<uint8_t> packet);

  const PacketFilterStats& stats() const { return stats_; }

 private:
  FilterResult Drop(PacketDrop d);
  FilterResult DropAndAnswer(PacketDrop d, std::span<const uint8_t> packet, ip::IcmpErrorKind kind, uint64_t now_ms,
                             std::span<uint8_t> answer);
  bool InPool(uint32_t a) const { return (a & pool_mask_) == options_.pool_network; }

  PacketFilterOptions options_;
  uint32_t pool_mask_;
  uint16_t max_mss_;
  double icmp_tokens_;
  uint64_t icmp_refill_ms_ = 0;
  PacketFilterStats stats_;
};

}  // namespace strait::connector
