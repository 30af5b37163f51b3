// policy_fuzzer: the connector's policy loader and matcher (tunnel/connector/policy*.h).
// 1. The input as TOML text into ParsePolicy: never crashes; a policy that loads answers Decide/CheckResolved on
//    fixed targets, and agrees with a naive linear scan of its own rules.
// 2. The input as binary rule records (family, prefix, address, ports, allow/deny) built straight into a Policy:
//    the hashed per-prefix-length CIDR lookup agrees with a linear scan of Cidr::Contains on addresses at and
//    around every rule's boundaries.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "crypto/byte_reader.h"
#include "tunnel/connector/policy.h"
#include "tunnel/connector/policy_file.h"

namespace {

using namespace strait::connector;

void Check(bool ok) {
  if (!ok) std::abort();
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

// The semantics of docs/policy.md, written as plainly as possible.
bool NaiveAddress(const Policy& p, const IpAddress& address, uint16_t port) {
  IpAddress a = address.Unmapped();
  if (port == 0 || a.IsUnspecified()) return false;
  return !CidrHit(p.deny_rules(), a, port) && CidrHit(p.allow_rules(), a, port);
}

void CheckAddress(const Policy& p, const IpAddress& a, uint16_t port) {
  Verdict v = p.Decide(a, port);
  Check(v.allowed() == NaiveAddress(p, a, port));
  // A name allowed by a host rule may still not reach a denied network.
  Verdict by_host{true, PolicyReason::kAllowedByHost, 0};
  IpAddress u = a.Unmapped();
  bool denied = port == 0 || u.IsUnspecified() || CidrHit(p.deny_rules(), u, port);
  Check(p.CheckResolved(by_host, a, port).allowed() == !denied);
  Verdict resolve{true, PolicyReason::kResolveThenCheck, Verdict::kNoRule};
  Check(p.CheckResolved(resolve, a, port).allowed() == v.allowed());
}

void CheckName(const Policy& p, std::string_view name, uint16_t port) {
  Verdict v = p.Decide(name, port);
  if (IpAddress::Parse(name)) return;  // judged as an address, checked above
  std::array<char, kMaxHostNameSize + 1> buf{};
  std::string_view canonical;
  if (port == 0 || !CanonicalHostName(name, buf, &canonical)) {
    Check(!v.allowed());
    return;
  }
  bool cidr_ports = false;
  for (const PolicyRule& r : p.allow_rules()) cidr_ports |= !r.cidrs.empty() && r.ports.Contains(port);
  bool want = !HostHit(p.deny_rules(), canonical, port) && (HostHit(p.allow_rules(), canonical, port) || cidr_ports);
  Check(v.allowed() == want);
}

// Each of the rule's names and networks, and the addresses just outside its networks.
void CheckAroundRule(const Policy& p, const PolicyRule& r, uint16_t port) {
  for (const HostPattern& h : r.hosts) CheckName(p, h.wildcard ? "w." + h.name : h.name, port);
  for (const Cidr& c : r.cidrs) {
    IpAddress a = c.network;
    CheckAddress(p, a, port);
    size_t last = a.family == IpAddress::Family::kV4 ? 3 : 15;
    a.bytes[last] = static_cast<uint8_t>(a.bytes[last] - 1);
    CheckAddress(p, a, port);
    a.bytes[last] = static_cast<uint8_t>(a.bytes[last] + 2);
    CheckAddress(p, a, port);
  }
}

const std::array<const char*, 10> kNames = {"intranet.corp.example", "x.git.corp.example", "a.b", "x.a.b",
                                            "y.x.a.b", "A.B.", "10.20.1.1", "::1", "bad..name", "localhost"};
const std::array<const char*, 8> kAddresses = {"10.20.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0",
                                               "::ffff:127.0.0.1", "2001:db8:20::1", "::1", "::"};
const std::array<uint16_t, 5> kPorts = {0, 22, 443, 8080, 65535};

void CheckPolicy(const Policy& p) {
  for (uint16_t port : kPorts) {
    for (const char* n : kNames) CheckName(p, n, port);
    for (const char* a : kAddresses) CheckAddress(p, *IpAddress::Parse(a), port);
  }
  for (std::span<const PolicyRule> rules : {p.allow_rules(), p.deny_rules()}) {
    for (const PolicyRule& rule : rules) CheckAroundRule(p, rule, 443);
  }
}

// Binary records: u8 flags (bit0 v6, bit1 deny), u8 prefix, 4 or 16 address bytes, u16 first port, u16 last port.
Policy PolicyFromRecords(strait::ByteReader& r, std::vector<IpAddress>* probes) {
  std::vector<PolicyRule> allow, deny;
  for (int i = 0; i < 24; ++i) {  // enough rules to share buckets and prefix lengths; cheap to scan
    uint8_t flags = 0, prefix = 0;
    uint16_t first = 0, last = 0;
    if (!r.ReadU8(&flags) || !r.ReadU8(&prefix)) break;
    IpAddress a;
    a.family = flags & 1 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
    if (!r.CopyBytes(std::span(a.bytes).first(a.family == IpAddress::Family::kV4 ? 4 : 16))) break;
    if (!r.ReadU16(&first) || !r.ReadU16(&last)) break;
    probes->push_back(a);
    Cidr c;
    c.prefix = static_cast<uint8_t>(prefix % (a.bits() + 1));
    c.network.family = a.family;
    for (int bit = 0; bit < c.prefix; ++bit) {
      uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
      c.network.bytes[static_cast<size_t>(bit / 8)] |= a.bytes[static_cast<size_t>(bit / 8)] & m;
    }
    PolicyRule rule;
    rule.cidrs.push_back(c);
    rule.ports = PortSet({PortRange{std::max<uint16_t>(1, std::min(first, last)), std::max<uint16_t>(1, std::max(first, last))}});
    (flags & 2 ? deny : allow).push_back(std::move(rule));
  }
  return Policy(std::move(allow), std::move(deny));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = ParsePolicy(text, "fuzz.toml");
  if (loaded.ok()) CheckPolicy(*loaded);

  strait::ByteReader r(std::span(data, size));
  std::vector<IpAddress> probes;
  Policy p = PolicyFromRecords(r, &probes);
  for (const IpAddress& a : probes) {
    for (uint16_t port : kPorts) {
      CheckAddress(p, a, port);
      IpAddress b = a;
      b.bytes[0] ^= 0x80;
      CheckAddress(p, b, port);
    }
  }
  for (std::span<const PolicyRule> rules : {p.allow_rules(), p.deny_rules()}) {
    for (const PolicyRule& rule : rules) CheckAroundRule(p, rule, rule.ports.ranges()[0].first);
  }
  return 0;
}
