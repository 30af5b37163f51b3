#include "control-plane/handlers/routes.h"

#include <vector>

#include "control-plane/handlers/handlers.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
constexpr uint16_t O = kWhoOperator, A = kWhoAdmin, R = kWhoReadOnly, P = kWhoPublic;
constexpr size_t kBody = kDefaultBodyLimit;

// The operator's and the public routes, and the tenant's keys, licence and audit. Routes without a body get limit 0:
// a GET or DELETE with a body is refused with 413.
constexpr Route kCoreRoutes[] = {
    {M::kGet, "/v1/openapi.json", "getOpenApi", P, 0, h::OpenApi},
    {M::kGet, "/v1/health", "getHealth", P, 0, h::Health},
    {M::kPost, "/v1/tenants", "createTenant", O, kBody, h::CreateTenant},
    {M::kGet, "/v1/tenants", "listTenants", O, 0, h::ListTenants},
    {M::kGet, "/v1/tenants/{tenant}", "getTenant", O | A | R, 0, h::GetTenant},
    {M::kPatch, "/v1/tenants/{tenant}", "updateTenant", O, kBody, h::PatchTenant},
    {M::kDelete, "/v1/tenants/{tenant}", "deleteTenant", O, 0, h::DeleteTenant},
    {M::kPost, "/v1/api-keys", "createOperatorApiKey", O, kBody, h::CreateOperatorApiKey},
    {M::kGet, "/v1/api-keys", "listOperatorApiKeys", O, 0, h::ListOperatorApiKeys},
    {M::kDelete, "/v1/api-keys/{key}", "deleteOperatorApiKey", O, 0, h::DeleteOperatorApiKey},
    {M::kGet, "/v1/tenants/{tenant}/licence", "getLicence", O | A | R, 0, h::GetLicence},
    {M::kPut, "/v1/tenants/{tenant}/licence", "putLicence", O, kBody, h::PutLicence},
    {M::kGet, "/v1/audit", "listAllAudit", O, 0, h::ListAllAudit},
    {M::kPost, "/v1/tenants/{tenant}/api-keys", "createTenantApiKey", O | A, kBody, h::CreateTenantApiKey},
    {M::kGet, "/v1/tenants/{tenant}/api-keys", "listTenantApiKeys", O | A, 0, h::ListTenantApiKeys},
    {M::kDelete, "/v1/tenants/{tenant}/api-keys/{key}", "deleteTenantApiKey", O | A, 0, h::DeleteTenantApiKey},
    {M::kGet, "/v1/tenants/{tenant}/audit", "listTenantAudit", O | A | R, 0, h::ListTenantAudit},
};

}  // namespace

std::span<const Route> CoreRoutes() { return kCoreRoutes; }

std::span<const Route> ApiRoutes() {
  // One group per resource file (handlers.h); a new group is one line here.
  static const std::vector<Route> all = [] {
    const std::span<const Route> groups[] = {CoreRoutes(), EventRoutes(), PolicyRoutes(), PeopleRoutes(),
                                             EnrollRoutes(), RenewRoutes()};
    std::vector<Route> out;
    for (std::span<const Route> group : groups) {
      for (const Route& r : group) out.push_back(r);
    }
    return out;
  }();
  return all;
}

}  // namespace strait::control
