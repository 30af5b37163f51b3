// TunnelRules: which packets a device may send through its IP tunnel (docs/ip-tunnel.md §4; the `[[tunnel.allow]]`
// and `[[tunnel.deny]]` tables of docs/policy.md). Default deny; deny wins. A rule names IPv4 CIDRs, protocols
// (tcp, udp, icmp) and, for tcp and udp, ports. ICMP is judged by type: a device may send echo requests and the
// errors (destination unreachable, time exceeded) its stack answers with; every other type is denied.
//
// A non-first fragment carries no ports: an allow rule matches it only if it covers every port, and a deny rule
// that matches the protocol denies it whatever its ports (deny wins where the ports are unknown).
//
// Cost: per packet, one CidrTable lookup for deny and one for allow (a hash probe per distinct prefix length),
// then a protocol mask and a PortSet search on the candidate rules. No allocation. Immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "tunnel/connector/cidr_table.h"
#include "tunnel/connector/port_set.h"

namespace strait::connector {

namespace tunnel_protocol {
inline constexpr uint8_t kTcp = 1;
inline constexpr uint8_t kUdp = 2;
inline constexpr uint8_t kIcmp = 4;
inline constexpr uint8_t kAll = kTcp | kUdp | kIcmp;
}  // namespace tunnel_protocol

struct TunnelRule {
  std::vector<Cidr> cidrs;    // IPv4
  uint8_t protocols = 0;      // tunnel_protocol::* bits
  PortSet ports;              // tcp and udp; ignored for icmp
};

// One packet as the rules see it. `port` is the destination port (tcp, udp); has_port is false for ICMP and for
// a non-first fragment.
struct TunnelFlow {
  uint32_t dst = 0;        // host order
  uint8_t protocol = 0;    // tunnel_protocol::* bit; 0 = a protocol the rules never allow
  bool has_port = false;
  uint16_t port = 0;
  bool fragment = false;   // a non-first fragment (no ports)
};

enum class TunnelDecision : uint8_t { kAllowed, kDeniedByRule, kNoMatchingRule };

class TunnelRules {
 public:
  TunnelRules() = default;  // no rules: denies everything
  TunnelRules(std::vector<TunnelRule> allow, std::vector<TunnelRule> deny);

  TunnelDecision Decide(const TunnelFlow& flow) const;
  bool empty() const { return allow_.empty(); }

 private:
  static CidrTable Index(const std::vector<TunnelRule>& rules);
  static bool Matches(const TunnelRule& r, const TunnelFlow& f, bool is_allow);

  std::vector<TunnelRule> allow_;
  std::vector<TunnelRule> deny_;
  CidrTable allow_index_;
  CidrTable deny_index_;
};

}  // namespace strait::connector
