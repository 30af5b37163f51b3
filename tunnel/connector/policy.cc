#include "tunnel/connector/policy.h"

namespace strait::connector {
namespace {

Verdict Allow(PolicyReason reason, uint32_t rule = Verdict::kNoRule) { return {true, reason, rule}; }
Verdict Deny(PolicyReason reason, uint32_t rule = Verdict::kNoRule) { return {false, reason, rule}; }

}  // namespace

std::string_view PolicyReasonName(PolicyReason r) {
  switch (r) {
    case PolicyReason::kAllowedByCidr: return "allowed_by_cidr";
    case PolicyReason::kAllowedByHost: return "allowed_by_host";
    case PolicyReason::kResolveThenCheck: return "resolve_then_check";
    case PolicyReason::kDeniedByCidr: return "denied_by_cidr";
    case PolicyReason::kDeniedByHost: return "denied_by_host";
    case PolicyReason::kNoMatchingRule: return "no_matching_rule";
    case PolicyReason::kInvalidName: return "invalid_name";
    case PolicyReason::kInvalidPort: return "invalid_port";
    case PolicyReason::kUnspecifiedAddress: return "unspecified_address";
  }
  return "unknown";
}

Policy::Policy(std::vector<PolicyRule> allow, std::vector<PolicyRule> deny)
    : allow_(std::move(allow)), deny_(std::move(deny)) {
  allow_index_ = BuildIndex(allow_);
  deny_index_ = BuildIndex(deny_);
  for (const PolicyRule& r : allow_) {
    if (!r.cidrs.empty()) cidr_allow_ports_.Merge(r.ports);
  }
}

Policy::Index Policy::BuildIndex(const std::vector<PolicyRule>& rules) {
  Index index;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    for (const Cidr& c : rules[i].cidrs) index.cidrs.Add(c, i);
    for (const HostPattern& h : rules[i].hosts) index.hosts.Add(h, i);
  }
  return index;
}

uint32_t Policy::FindCidr(const Index& index, const std::vector<PolicyRule>& rules, const IpAddress& a,
                          uint16_t port) const {
  return index.cidrs.Find(a, [&](uint32_t rule) { return rules[rule].ports.Contains(port); });
}

Verdict Policy::Decide(const IpAddress& address, uint16_t port) const {
  if (port == 0) return Deny(PolicyReason::kInvalidPort);
  IpAddress a = address.Unmapped();
  if (a.IsUnspecified()) return Deny(PolicyReason::kUnspecifiedAddress);
  if (uint32_t r = FindCidr(deny_index_, deny_, a, port); r != CidrTable::kNoRule) {
    return Deny(PolicyReason::kDeniedByCidr, r);
  }
  if (uint32_t r = FindCidr(allow_index_, allow_, a, port); r != CidrTable::kNoRule) {
    return Allow(PolicyReason::kAllowedByCidr, r);
  }
  return Deny(PolicyReason::kNoMatchingRule);
}

Verdict Policy::Decide(std::string_view name, uint16_t port) const {
  if (port == 0) return Deny(PolicyReason::kInvalidPort);
  if (std::optional<IpAddress> literal = IpAddress::Parse(name)) return Decide(*literal, port);
  std::array<char, kMaxHostNameSize + 1> buf;
  std::string_view canonical;
  if (!CanonicalHostName(name, buf, &canonical)) return Deny(PolicyReason::kInvalidName);

  auto port_ok = [port](const std::vector<PolicyRule>& rules) {
    return [&rules, port](uint32_t rule) { return rules[rule].ports.Contains(port); };
  };
  if (uint32_t r = deny_index_.hosts.Find(canonical, port_ok(deny_)); r != HostTable::kNoRule) {
    return Deny(PolicyReason::kDeniedByHost, r);
  }
  if (uint32_t r = allow_index_.hosts.Find(canonical, port_ok(allow_)); r != HostTable::kNoRule) {
    return Allow(PolicyReason::kAllowedByHost, r);
  }
  if (cidr_allow_ports_.Contains(port)) return Allow(PolicyReason::kResolveThenCheck);
  return Deny(PolicyReason::kNoMatchingRule);
}

Verdict Policy::CheckResolved(const Verdict& pre, const IpAddress& address, uint16_t port) const {
  if (!pre.allowed()) return pre;
  if (port == 0) return Deny(PolicyReason::kInvalidPort);
  IpAddress a = address.Unmapped();
  if (a.IsUnspecified()) return Deny(PolicyReason::kUnspecifiedAddress);
  if (uint32_t r = FindCidr(deny_index_, deny_, a, port); r != CidrTable::kNoRule) {
    return Deny(PolicyReason::kDeniedByCidr, r);
  }
  if (pre.reason == PolicyReason::kAllowedByHost) return pre;
  if (uint32_t r = FindCidr(allow_index_, allow_, a, port); r != CidrTable::kNoRule) {
    return Allow(PolicyReason::kAllowedByCidr, r);
  }
  return Deny(PolicyReason::kNoMatchingRule);
}

}  // namespace strait::connector
