// Policy: may this stream's destination be dialled? The connector asks before it resolves or dials anything
// (docs/policy.md has the file format and the full semantics).
//
//   default deny; deny wins over allow.
//   by address:  allowed iff it matches an allow CIDR (with the port) and no deny CIDR (with the port).
//   by name:     a deny host pattern (with the port) refuses it; an allow host pattern (with the port) admits it,
//                and then every resolved address must miss the deny CIDRs; otherwise, if some allow CIDR rule
//                covers the port, the name may be resolved and every address must pass the address rule.
//
// Use, per stream:
//   Verdict v = policy.Decide(name_or_address, port);      // before DNS: denied names are never even resolved
//   if allowed: for each address the dialler will try:    // after DNS, before connect(2)
//     if (!policy.CheckResolved(v, address, port).allowed()) skip it (or refuse the stream)
//
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they reach, and 0.0.0.0/8 and :: (which reach the
// connector host itself) are never allowed. A Policy is immutable after construction: any thread may call its
// const methods concurrently. Decide and CheckResolved do not allocate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/connector/cidr_table.h"
#include "tunnel/connector/host_table.h"
#include "tunnel/connector/ip_address.h"
#include "tunnel/connector/port_set.h"
#include "tunnel/connector/tunnel_rules.h"
#include "tunnel/tunnel_control.h"

namespace strait::connector {

struct PolicyRule {
  std::vector<HostPattern> hosts;
  std::vector<Cidr> cidrs;
  PortSet ports;
};

// Why a verdict came out as it did: one name per reason, for counters and the RESET's log line.
enum class PolicyReason : uint8_t {
  kAllowedByCidr,       // an allow CIDR rule matched the address and port
  kAllowedByHost,       // an allow host rule matched the name and port; resolved addresses face the deny CIDRs
  kResolveThenCheck,    // no host rule, but allow CIDR rules cover the port: resolve, then check each address
  kDeniedByCidr,        // a deny CIDR rule matched
  kDeniedByHost,        // a deny host rule matched
  kNoMatchingRule,      // default deny
  kInvalidName,         // not a valid DNS name
  kInvalidPort,         // port 0
  kUnspecifiedAddress,  // 0.0.0.0/8 or ::
};
std::string_view PolicyReasonName(PolicyReason r);

struct Verdict {
  static constexpr uint32_t kNoRule = CidrTable::kNoRule;

  bool allow = false;
  PolicyReason reason = PolicyReason::kNoMatchingRule;
  uint32_t rule = kNoRule;  // index in allow_rules() or deny_rules() of the rule that decided, if one did

  bool allowed() const { return allow; }
};

// The [tunnel] table (docs/ip-tunnel.md §4): what the connector hands each device's IP tunnel. Bounds are
// tunnel_control.h's (the loader refuses more).
struct TunnelPolicy {
  std::vector<tunnel::Ipv4Prefix> routes;  // the split tunnel: only these prefixes go into the tunnel
  std::vector<uint32_t> dns_servers;       // internal resolvers (host order)
  std::vector<std::string> dns_domains;    // canonical names whose lookups go to them
  bool device_to_device = false;           // may a device reach another device's tunnel address
  TunnelRules rules;                       // [[tunnel.allow]] / [[tunnel.deny]]: what packets may go where
};

class Policy {
 public:
  Policy() = default;  // no rules: denies everything
  // Limits on rule counts are the loader's (policy_file.h); any size is accepted here.
  Policy(std::vector<PolicyRule> allow, std::vector<PolicyRule> deny);

  // Before resolution. A name that is an IP literal is judged as that address.
  Verdict Decide(std::string_view name, uint16_t port) const;
  Verdict Decide(const IpAddress& address, uint16_t port) const;
  // After resolution: `pre` is Decide's verdict for the name, `address` one address the dialler will try.
  // A denying `pre` is returned unchanged.
  Verdict CheckResolved(const Verdict& pre, const IpAddress& address, uint16_t port) const;

  void set_tunnel(TunnelPolicy t) { tunnel_ = std::move(t); }
  const TunnelPolicy& tunnel() const { return tunnel_; }

  std::span<const PolicyRule> allow_rules() const { return allow_; }
  std::span<const PolicyRule> deny_rules() const { return deny_; }

 private:
  struct Index {
    CidrTable cidrs;
    HostTable hosts;
  };
  static Index BuildIndex(const std::vector<PolicyRule>& rules);
  uint32_t FindCidr(const Index& index, const std::vector<PolicyRule>& rules, const IpAddress& a,
                    uint16_t port) const;

  // Immutable after construction.
  std::vector<PolicyRule> allow_;
  std::vector<PolicyRule> deny_;
  Index allow_index_;
  Index deny_index_;
  PortSet cidr_allow_ports_;  // union of the ports of allow rules that have CIDRs
  TunnelPolicy tunnel_;
};

}  // namespace strait::connector
