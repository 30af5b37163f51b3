#include "control-plane/api/effective_policy.h"

#include <algorithm>
#include <tuple>

namespace strait::control {

std::string_view PolicyViaName(PolicyVia via) {
  switch (via) {
    case PolicyVia::kUser: return "user";
    case PolicyVia::kGroup: return "group";
    case PolicyVia::kDefault: return "default";
    case PolicyVia::kNone: return "none";
  }
  return "none";
}

EffectivePolicy ComputeEffectivePolicy(std::string_view user, std::span<const std::string> groups,
                                       std::span<const AssignmentView> assignments,
                                       std::optional<std::string_view> default_policy) {
  const AssignmentView* best_user = nullptr;
  const AssignmentView* best_group = nullptr;
  auto better = [](const AssignmentView& a, const AssignmentView* b) {
    return b == nullptr || std::tie(a.priority, a.policy, a.id) < std::tie(b->priority, b->policy, b->id);
  };
  for (const AssignmentView& a : assignments) {
    if (a.target == AssignmentTarget::kUser) {
      if (a.target_id == user && better(a, best_user)) best_user = &a;
    } else if (std::find(groups.begin(), groups.end(), a.target_id) != groups.end() && better(a, best_group)) {
      best_group = &a;
    }
  }
  if (const AssignmentView* best = best_user ? best_user : best_group) {
    return EffectivePolicy{std::string(best->policy), best_user ? PolicyVia::kUser : PolicyVia::kGroup,
                           std::string(best->id)};
  }
  if (default_policy) return EffectivePolicy{std::string(*default_policy), PolicyVia::kDefault, std::nullopt};
  return EffectivePolicy{};
}

}  // namespace strait::control
