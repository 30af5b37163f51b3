// The connector's dispatch of a new stream (tunnel/connector/open_plan.h, what DeviceSession does with an OPEN
// and with a resolution): a policy, a target and a resolver's answer from the input.
//
// Input: [u8 host rules][u8 rule count] then that many CIDR rules
//          [u8 flags: bit0 IPv6, bit1 deny][u8 prefix][4 or 16 address bytes][u16 first port][u16 last port],
//        then the target [u8 type % 3: IPv4, IPv6, name][u16 port][u8 length][address or name bytes],
//        then the resolver's answer [u8 error (0: ok)] and addresses [u8 family bit][4 or 16 bytes] to the end.
//        Host rules (bits of the first byte): 1 allow *.corp.example (all ports), 2 deny bad.corp.example:443,
//        4 allow intranet.example:443.
//
// Model: docs/policy.md's rules written out as linear scans (as in policy_fuzzer.cc). Properties (trap on
// violation), beyond "never crashes":
//   - an address target (or a name that is an IP literal) is dialled, as exactly that address, iff the address
//     rule allows it (allow CIDR with the port, no deny CIDR, not 0.0.0.0/8 or ::, port not 0); otherwise
//     refused_by_policy; it is never resolved;
//   - a name is resolved (as the bytes sent) iff it is a valid name, not denied by a host rule, and allowed by a
//     host rule or some allow CIDR rule covers the port; otherwise refused_by_policy, and it never reaches the
//     resolver;
//   - a resolution: an error or no address is dns_failed; otherwise the addresses dialled are exactly, in the
//     resolver's order, those that are not denied (deny CIDR, unspecified) and, unless a host rule allowed the
//     name, pass the address rule; none -> refused_by_policy. Never an address outside the resolver's answer.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/byte_reader.h"
#include "tunnel/connector/open_plan.h"

namespace {

using namespace strait;             // NOLINT(google-build-using-namespace)
using namespace strait::connector;  // NOLINT(google-build-using-namespace)

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

bool CidrHit(std::span<const PolicyRule> rules, const IpAddress& a, uint16_t port) {
  for (const PolicyRule& r : rules) {
    if (!r.ports.Contains(port)) continue;
    for (const Cidr& c : r.cidrs) {
      if (c.Contains(a)) return true;
    }
  }
  return false;
}

bool HostHit(std::span<const PolicyRule> rules, std::string_view canonical, uint16_t port) {
  for (const PolicyRule& r : rules) {
    if (!r.ports.Contains(port)) continue;
    for (const HostPattern& h : r.hosts) {
      if (h.Matches(canonical)) return true;
    }
  }
  return false;
}

bool Denied(const Policy& p, const IpAddress& address, uint16_t port) {
  const IpAddress a = address.Unmapped();
  return port == 0 || a.IsUnspecified() || CidrHit(p.deny_rules(), a, port);
}

bool AddressAllowed(const Policy& p, const IpAddress& address, uint16_t port) {
  return !Denied(p, address, port) && CidrHit(p.allow_rules(), address.Unmapped(), port);
}

PolicyRule HostRule(std::string_view pattern, PortSet ports) {
  PolicyRule r;
  r.hosts.push_back(HostPattern::Parse(pattern).value());
  r.ports = std::move(ports);
  return r;
}

bool ReadAddress(ByteReader& r, bool v6, IpAddress* a) {
  a->family = v6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
  a->bytes = {};
  return r.CopyBytes(std::span(a->bytes).first(v6 ? 16 : 4));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(std::span<const uint8_t>(data, size));
  uint8_t hosts = 0, count = 0;
  if (!r.ReadU8(&hosts) || !r.ReadU8(&count)) return 0;
  std::vector<PolicyRule> allow, deny;
  if (hosts & 1) allow.push_back(HostRule("*.corp.example", PortSet::All()));
  if (hosts & 2) deny.push_back(HostRule("bad.corp.example", PortSet({PortRange{443, 443}})));
  if (hosts & 4) allow.push_back(HostRule("intranet.example", PortSet({PortRange{443, 443}})));
  for (int i = 0; i < count % 16; ++i) {
    uint8_t flags = 0, prefix = 0;
    uint16_t first = 0, last = 0;
    IpAddress a;
    if (!r.ReadU8(&flags) || !r.ReadU8(&prefix) || !ReadAddress(r, flags & 1, &a) || !r.ReadU16(&first) ||
        !r.ReadU16(&last)) {
      return 0;
    }
    Cidr c;
    c.prefix = static_cast<uint8_t>(prefix % (a.bits() + 1));
    c.network.family = a.family;
    for (int bit = 0; bit < c.prefix; ++bit) {
      const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
      c.network.bytes[static_cast<size_t>(bit / 8)] |= a.bytes[static_cast<size_t>(bit / 8)] & m;
    }
    PolicyRule rule;
    rule.cidrs.push_back(c);
    rule.ports = PortSet({PortRange{std::max<uint16_t>(1, std::min(first, last)), std::max<uint16_t>(1, std::max(first, last))}});
    (flags & 2 ? deny : allow).push_back(std::move(rule));
  }
  const Policy policy(std::move(allow), std::move(deny));

  // The target, as the inner-frame decoder hands it over (4 or 16 address bytes, or a 1..255-byte name).
  uint8_t type = 0, len = 0;
  uint16_t port = 0;
  if (!r.ReadU8(&type) || !r.ReadU16(&port) || !r.ReadU8(&len)) return 0;
  std::vector<uint8_t> addr;
  tunnel::OpenTarget target;
  target.port = port;
  switch (type % 3) {
    case 0: target.type = tunnel::AddrType::kIPv4; addr.resize(4); break;
    case 1: target.type = tunnel::AddrType::kIPv6; addr.resize(16); break;
    default: target.type = tunnel::AddrType::kDomain; addr.resize(std::max<uint8_t>(len, 1)); break;
  }
  if (!r.CopyBytes(addr)) return 0;
  target.addr = addr;

  const OpenPlan plan = PlanOpen(policy, target);
  const std::string_view as_text(reinterpret_cast<const char*>(addr.data()), addr.size());
  std::optional<IpAddress> literal;
  if (target.type == tunnel::AddrType::kIPv4) literal = IpAddress::V4({addr[0], addr[1], addr[2], addr[3]});
  if (target.type == tunnel::AddrType::kIPv6) {
    std::array<uint8_t, 16> b{};
    std::copy(addr.begin(), addr.end(), b.begin());
    literal = IpAddress::V6(b);
  }
  if (target.type == tunnel::AddrType::kDomain) literal = IpAddress::Parse(as_text);
  Check(plan.port == port);
  if (literal) {
    const bool allowed = AddressAllowed(policy, *literal, port);
    Check(plan.kind == (allowed ? OpenPlan::Kind::kDial : OpenPlan::Kind::kRefuse));
    if (allowed) Check(plan.address == *literal);
    if (!allowed) Check(plan.refuse == RefuseReason::kPolicy);
    return 0;
  }
  std::array<char, kMaxHostNameSize + 1> buf{};
  std::string_view canonical;
  bool want = false;
  if (port != 0 && CanonicalHostName(as_text, buf, &canonical)) {
    bool cidr_ports = false;
    for (const PolicyRule& rule : policy.allow_rules()) cidr_ports |= !rule.cidrs.empty() && rule.ports.Contains(port);
    want = !HostHit(policy.deny_rules(), canonical, port) &&
           (HostHit(policy.allow_rules(), canonical, port) || cidr_ports);
  }
  Check(plan.kind == (want ? OpenPlan::Kind::kResolve : OpenPlan::Kind::kRefuse));
  if (!want) {
    Check(plan.refuse == RefuseReason::kPolicy);
    return 0;
  }
  Check(plan.name == as_text);
  const bool by_host = HostHit(policy.allow_rules(), canonical, port);

  ResolveResult result;
  uint8_t error = 0;
  (void)r.ReadU8(&error);
  result.error = error;
  uint8_t family = 0;
  while (result.addresses.size() < 16 && r.ReadU8(&family)) {
    IpAddress a;
    if (!ReadAddress(r, family & 1, &a)) break;
    result.addresses.push_back(a);
  }
  const ResolvedPlan resolved = PlanResolved(policy, plan.verdict, port, result);
  if (error != 0 || result.addresses.empty()) {
    Check(resolved.refuse == RefuseReason::kDnsFailed && resolved.dial.empty());
    return 0;
  }
  std::vector<IpAddress> expect;
  for (const IpAddress& a : result.addresses) {
    if (by_host ? !Denied(policy, a, port) : AddressAllowed(policy, a, port)) expect.push_back(a);
  }
  Check(resolved.dial == expect);
  Check(resolved.refuse == (expect.empty() ? std::optional<RefuseReason>(RefuseReason::kPolicy) : std::nullopt));
  return 0;
}
