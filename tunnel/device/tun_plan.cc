#include "tunnel/device/tun_plan.h"

#include <algorithm>

#include "tunnel/ip/ipv4.h"

namespace strait::device {
namespace {

bool Has(const std::vector<tunnel::Ipv4Prefix>& list, const tunnel::Ipv4Prefix& p) {
  return std::find(list.begin(), list.end(), p) != list.end();
}

}  // namespace

bool PrefixContains(const tunnel::Ipv4Prefix& p, std::uint32_t address) {
  const std::uint32_t mask = ip::PrefixMask(p.length);
  return (address & mask) == (p.prefix & mask);
}

TunPlan PlanTunChange(const TunState& now, const tunnel::TunnelConfig& next, std::span<const std::uint32_t> avoid) {
  TunPlan plan;
  const bool first = now.address == 0;
  if (next.address != now.address) {
    plan.remove_address = now.address;
    plan.add_address = next.address;
  }
  if (next.mtu != now.mtu) plan.set_mtu = next.mtu;
  plan.set_up = first;
  std::vector<tunnel::Ipv4Prefix> wanted;
  for (const tunnel::Ipv4Prefix& r : next.routes) {
    const bool loops = std::any_of(avoid.begin(), avoid.end(), [&](std::uint32_t a) { return PrefixContains(r, a); });
    if (loops) {
      if (!Has(plan.skipped, r)) plan.skipped.push_back(r);
    } else if (!Has(wanted, r)) {
      wanted.push_back(r);
    }
  }
  for (const tunnel::Ipv4Prefix& r : now.routes) {
    if (!Has(wanted, r)) plan.delete_routes.push_back(r);
  }
  for (const tunnel::Ipv4Prefix& r : wanted) {
    if (!Has(now.routes, r)) plan.add_routes.push_back(r);
  }
  return plan;
}

TunState StateAfter(const TunState& now, const TunPlan& plan) {
  TunState s = now;
  if (plan.add_address != 0) s.address = plan.add_address;
  if (plan.set_mtu != 0) s.mtu = plan.set_mtu;
  std::erase_if(s.routes, [&](const tunnel::Ipv4Prefix& r) { return Has(plan.delete_routes, r); });
  s.routes.insert(s.routes.end(), plan.add_routes.begin(), plan.add_routes.end());
  return s;
}

}  // namespace strait::device
