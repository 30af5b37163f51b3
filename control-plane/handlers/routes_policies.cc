// Policies, assignments and effective policy (docs/control-plane.md §4.8): the route group of policies.cc.
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
constexpr uint16_t A = kWhoAdmin, R = kWhoReadOnly, O = kWhoOperator;
// Policy bodies may be large (up to 100,000 patterns, §4.9); everything else keeps the default.
constexpr size_t kPolicyBody = kPolicyBodyLimit;
constexpr size_t kBody = kDefaultBodyLimit;

constexpr Route kPolicyRoutes[] = {
    {M::kPost, "/v1/tenants/{tenant}/policies", "createPolicy", O | A, kPolicyBody, h::CreatePolicy},
    {M::kGet, "/v1/tenants/{tenant}/policies", "listPolicies", O | A | R, 0, h::ListPolicies},
    {M::kGet, "/v1/tenants/{tenant}/policies/{policy}", "getPolicy", O | A | R, 0, h::GetPolicy},
    {M::kPut, "/v1/tenants/{tenant}/policies/{policy}", "putPolicy", O | A, kPolicyBody, h::PutPolicy},
    {M::kDelete, "/v1/tenants/{tenant}/policies/{policy}", "deletePolicy", O | A, 0, h::DeletePolicy},
    {M::kPost, "/v1/tenants/{tenant}/policy-assignments", "createPolicyAssignment", O | A, kBody,
     h::CreateAssignment},
    {M::kGet, "/v1/tenants/{tenant}/policy-assignments", "listPolicyAssignments", O | A | R, 0, h::ListAssignments},
    {M::kDelete, "/v1/tenants/{tenant}/policy-assignments/{assignment}", "deletePolicyAssignment", O | A, 0,
     h::DeleteAssignment},
    {M::kGet, "/v1/tenants/{tenant}/devices/{device}/effective-policy", "getEffectivePolicy", O | A | R, 0,
     h::GetEffectivePolicy},
};

}  // namespace

std::span<const Route> PolicyRoutes() { return kPolicyRoutes; }

}  // namespace strait::control
