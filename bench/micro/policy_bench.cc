// strait_policy_bench: Policy::Decide per second with 10, 1,000 and 10,000 rules (tunnel/connector/policy.h).
// Rules are half CIDR rules (prefix lengths /16, /24, /28, /32 and some IPv6 /48, /64) and half host rules
// (exact names and "*." wildcards), plus a few deny rules. Queries rotate over 1,024 destinations, half of them
// hits. BM_LinearScan is the baseline in the same run: a plain loop over the rules, the cost the tables avoid.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tunnel/connector/policy.h"

namespace {

using namespace strait::connector;

IpAddress V4(uint32_t v) {
  return IpAddress::V4({static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                        static_cast<uint8_t>(v)});
}

Cidr MakeCidr(const IpAddress& a, uint8_t prefix) {
  Cidr c;
  c.network.family = a.family;
  c.prefix = prefix;
  for (int bit = 0; bit < prefix; ++bit) {
    uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
    c.network.bytes[static_cast<size_t>(bit / 8)] |= a.bytes[static_cast<size_t>(bit / 8)] & m;
  }
  return c;
}

struct Fixture {
  Policy policy;
  std::vector<IpAddress> addresses;
  std::vector<std::string> names;
};

Fixture Build(size_t rules) {
  static constexpr uint8_t kV4Prefixes[] = {16, 24, 28, 32};
  std::vector<PolicyRule> allow;
  std::vector<PolicyRule> deny;
  Fixture f;
  for (size_t i = 0; i < rules; ++i) {
    PolicyRule r;
    r.ports = PortSet({{443, 443}, {8000, 8100}});
    if (i % 2 == 0) {
      if (i % 10 == 4) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
        r.cidrs.push_back(MakeCidr(IpAddress::V6(b), i % 20 == 4 ? 48 : 64));
        f.addresses.push_back(IpAddress::V6(b));
      } else {
        IpAddress a = V4((10u << 24) | static_cast<uint32_t>(i) << 8);
        r.cidrs.push_back(MakeCidr(a, kV4Prefixes[(i / 2) % 4]));
        f.addresses.push_back(a);
      }
    } else {
      std::string name = "svc" + std::to_string(i) + ".corp.example";
      r.hosts.push_back(*HostPattern::Parse(i % 4 == 1 ? name : "*." + name));
      f.names.push_back(i % 4 == 1 ? name : "api.eu." + name);
    }
    allow.push_back(std::move(r));
  }
  PolicyRule d;
  d.cidrs = {*Cidr::Parse("127.0.0.0/8"), *Cidr::Parse("169.254.0.0/16"), *Cidr::Parse("10.0.255.0/24")};
  d.ports = PortSet::All();
  deny.push_back(std::move(d));
  f.policy = Policy(std::move(allow), std::move(deny));
  // Misses next to the hits.
  for (uint32_t i = 0; i < 512; ++i) f.addresses.push_back(V4((172u << 24) | (16u << 16) | i));
  for (uint32_t i = 0; i < 512; ++i) f.names.push_back("unknown" + std::to_string(i) + ".example");
  f.addresses.resize(1024, V4(0x0a000001));
  f.names.resize(1024, "svc1.corp.example");
  return f;
}

void BM_DecideAddress(benchmark::State& state) {
  Fixture f = Build(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.policy.Decide(f.addresses[i++ & 1023], 443));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_DecideName(benchmark::State& state) {
  Fixture f = Build(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.policy.Decide(f.names[i++ & 1023], 443));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Decide on a name then CheckResolved on one address: the connector's whole per-stream cost.
void BM_DecideNameThenResolved(benchmark::State& state) {
  Fixture f = Build(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    Verdict v = f.policy.Decide(f.names[i & 1023], 443);
    benchmark::DoNotOptimize(f.policy.CheckResolved(v, f.addresses[i & 1023], 443));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Baseline: the same address question answered by scanning every rule.
void BM_LinearScanAddress(benchmark::State& state) {
  Fixture f = Build(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    const IpAddress& a = f.addresses[i++ & 1023];
    bool hit = false;
    for (const PolicyRule& r : f.policy.deny_rules()) {
      for (const Cidr& c : r.cidrs) hit |= c.Contains(a) && r.ports.Contains(443);
    }
    if (!hit) {
      for (const PolicyRule& r : f.policy.allow_rules()) {
        for (const Cidr& c : r.cidrs) hit |= c.Contains(a) && r.ports.Contains(443);
      }
    }
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(BM_DecideAddress)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_DecideName)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_DecideNameThenResolved)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_LinearScanAddress)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace
