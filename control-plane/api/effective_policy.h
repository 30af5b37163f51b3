// Which policy applies to a device (docs/control-plane.md §4.7). Pure: the caller reads the user's assignments,
// groups and the tenant's default in one transaction and asks; connectors are told the answer (device -> policy)
// and never learn users or groups.
//
// A device's policy is its user's: the user's own assignments first, then its groups'; within each the lowest
// priority wins, a tie goes to the smaller policy id (then the smaller assignment id, so the answer never depends
// on input order); none -> the tenant's default policy; no default -> none (deny everything).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace strait::control {

enum class PolicyVia : uint8_t { kUser, kGroup, kDefault, kNone };
std::string_view PolicyViaName(PolicyVia via);  // "user", "group", "default", "none"

enum class AssignmentTarget : uint8_t { kUser, kGroup };

struct AssignmentView {
  std::string_view id;
  std::string_view policy;
  AssignmentTarget target = AssignmentTarget::kUser;
  std::string_view target_id;
  int64_t priority = 0;
};

struct EffectivePolicy {
  std::optional<std::string> policy;      // nullopt with via kNone
  PolicyVia via = PolicyVia::kNone;
  std::optional<std::string> assignment;  // the deciding assignment (via user or group)
  friend bool operator==(const EffectivePolicy&, const EffectivePolicy&) = default;
};

// `assignments` may hold others' (those targeting neither `user` nor one of `groups` are ignored). `groups` are the
// user's group ids; `default_policy` the tenant's default policy id, if any.
EffectivePolicy ComputeEffectivePolicy(std::string_view user, std::span<const std::string> groups,
                                       std::span<const AssignmentView> assignments,
                                       std::optional<std::string_view> default_policy);

}  // namespace strait::control
