#include "tunnel/connector/tunnel_rules.h"

namespace strait::connector {

TunnelRules::TunnelRules(std::vector<TunnelRule> allow, std::vector<TunnelRule> deny)
    : allow_(std::move(allow)), deny_(std::move(deny)), allow_index_(Index(allow_)), deny_index_(Index(deny_)) {}

CidrTable TunnelRules::Index(const std::vector<TunnelRule>& rules) {
  CidrTable t;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    for (const Cidr& c : rules[i].cidrs) t.Add(c, i);
  }
  return t;
}

bool TunnelRules::Matches(const TunnelRule& r, const TunnelFlow& f, bool is_allow) {
  if ((r.protocols & f.protocol) == 0) return false;
  if (f.protocol == tunnel_protocol::kIcmp) return true;
  if (f.has_port) return r.ports.Contains(f.port);
  // No ports (a non-first fragment): an allow rule must cover them all; a deny rule matches on the protocol.
  return !is_allow || (r.ports.ranges().size() == 1 && r.ports.ranges()[0].first == 1 &&
                       r.ports.ranges()[0].last == 65535);
}

TunnelDecision TunnelRules::Decide(const TunnelFlow& f) const {
  if (f.protocol == 0) return TunnelDecision::kNoMatchingRule;
  const IpAddress a = IpAddress::V4({static_cast<uint8_t>(f.dst >> 24), static_cast<uint8_t>(f.dst >> 16),
                                     static_cast<uint8_t>(f.dst >> 8), static_cast<uint8_t>(f.dst)});
  if (deny_index_.Find(a, [&](uint32_t i) { return Matches(deny_[i], f, false); }) != CidrTable::kNoRule) {
    return TunnelDecision::kDeniedByRule;
  }
  if (allow_index_.Find(a, [&](uint32_t i) { return Matches(allow_[i], f, true); }) != CidrTable::kNoRule) {
    return TunnelDecision::kAllowed;
  }
  return TunnelDecision::kNoMatchingRule;
}

}  // namespace strait::connector
