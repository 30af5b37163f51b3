#include "tunnel/connector/open_plan.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace strait::connector {

OpenPlan PlanOpen(const Policy& policy, const tunnel::OpenTarget& target) {
  OpenPlan plan;
  plan.port = target.port;
  std::optional<IpAddress> literal;
  switch (target.type) {
    case tunnel::AddrType::kIPv4: {
      std::array<std::uint8_t, 4> b{};
      std::memcpy(b.data(), target.addr.data(), std::min(b.size(), target.addr.size()));
      literal = IpAddress::V4(b);
      break;
    }
    case tunnel::AddrType::kIPv6: {
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), target.addr.data(), std::min(b.size(), target.addr.size()));
      literal = IpAddress::V6(b);
      break;
    }
    case tunnel::AddrType::kDomain:
      plan.name.assign(reinterpret_cast<const char*>(target.addr.data()), target.addr.size());
      literal = IpAddress::Parse(plan.name);
      break;
  }
  plan.verdict = literal ? policy.Decide(*literal, plan.port) : policy.Decide(plan.name, plan.port);
  if (!plan.verdict.allowed()) return plan;  // kRefuse refused_by_policy
  if (literal) {
    if (!policy.CheckResolved(plan.verdict, *literal, plan.port).allowed()) return plan;
    plan.kind = OpenPlan::Kind::kDial;
    plan.address = *literal;
    plan.name.clear();
    return plan;
  }
  plan.kind = OpenPlan::Kind::kResolve;
  return plan;
}

ResolvedPlan PlanResolved(const Policy& policy, const Verdict& verdict, std::uint16_t port,
                          const ResolveResult& result) {
  ResolvedPlan plan;
  if (result.error != 0 || result.addresses.empty()) {
    plan.refuse = RefuseReason::kDnsFailed;
    return plan;
  }
  // Every address the dialler tries must pass; it tries those that pass, in the resolver's order.
  for (const IpAddress& a : result.addresses) {
    if (policy.CheckResolved(verdict, a, port).allowed()) plan.dial.push_back(a);
  }
  if (plan.dial.empty()) plan.refuse = RefuseReason::kPolicy;
  return plan;
}

}  // namespace strait::connector
