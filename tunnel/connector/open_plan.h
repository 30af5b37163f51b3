// OpenPlan: what the connector does with a device's stream OPEN, and with the addresses its name resolved to,
// without I/O (style.md item 1). DeviceSession (device_session.h) asks and carries the plan out (timer, resolver,
// dial, RESET); the fuzzer (fuzz/open_plan_fuzzer.cc) and tests/connector/open_plan_test.cc drive it directly.
//
//   PlanOpen(policy, target)
//     an address (IPv4 / IPv6, or a name that is an IP literal): Decide, then CheckResolved
//                                       -> kDial that address, or kRefuse refused_by_policy
//     a name: Decide -> kResolve the name (unresolved names never reach the resolver if denied), or kRefuse
//   PlanResolved(policy, verdict, port, result)
//     an error or no address -> kDnsFailed; else the addresses CheckResolved allows, in the resolver's order
//     (the dialler tries them until one connects); none allowed -> refused_by_policy
//
// Pure functions over an immutable Policy: any thread, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tunnel/connector/connector_stats.h"
#include "tunnel/connector/ip_address.h"
#include "tunnel/connector/policy.h"
#include "tunnel/connector/resolver.h"
#include "tunnel/inner_frame.h"

namespace strait::connector {

struct OpenPlan {
  enum class Kind : std::uint8_t { kRefuse, kDial, kResolve };
  Kind kind = Kind::kRefuse;
  RefuseReason refuse = RefuseReason::kPolicy;  // kRefuse
  Verdict verdict;                              // Decide's verdict (kept for PlanResolved)
  std::uint16_t port = 0;
  IpAddress address;                            // kDial
  std::string name;                             // kResolve: the name as the device sent it
};
OpenPlan PlanOpen(const Policy& policy, const tunnel::OpenTarget& target);

struct ResolvedPlan {
  std::optional<RefuseReason> refuse;  // set: answer RESET with it
  std::vector<IpAddress> dial;         // otherwise: non-empty, in the order to try
};
ResolvedPlan PlanResolved(const Policy& policy, const Verdict& verdict, std::uint16_t port,
                          const ResolveResult& result);

}  // namespace strait::connector
