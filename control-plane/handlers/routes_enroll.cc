// The enrolment routes (docs/control-plane.md §4.8): activations, POST /v1/activate, connectors and relays. Renew,
// snapshot and events of connectors and relays belong to other groups.
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
constexpr uint16_t O = kWhoOperator, A = kWhoAdmin, R = kWhoReadOnly, X = kWhoActivation;
constexpr size_t kBody = kDefaultBodyLimit;

constexpr Route kEnrollRoutes[] = {
    {M::kPost, "/v1/activate", "activate", X, kActivateBodyLimit, h::Activate},
    {M::kPost, "/v1/relays", "createRelay", O, kBody, h::CreateRelay},
    {M::kGet, "/v1/relays", "listRelays", O, 0, h::ListRelays},
    {M::kGet, "/v1/relays/{relay}", "getRelay", O, 0, h::GetRelay},
    {M::kPatch, "/v1/relays/{relay}", "updateRelay", O, kBody, h::PatchRelay},
    {M::kDelete, "/v1/relays/{relay}", "deleteRelay", O, 0, h::DeleteRelay},
    {M::kPost, "/v1/relays/{relay}/activations", "createRelayActivation", O, kBody, h::CreateRelayActivation},
    {M::kPost, "/v1/tenants/{tenant}/activations", "createActivation", O | A, kBody, h::CreateActivation},
    {M::kGet, "/v1/tenants/{tenant}/activations", "listActivations", O | A | R, 0, h::ListActivations},
    {M::kGet, "/v1/tenants/{tenant}/activations/{activation}", "getActivation", O | A | R, 0, h::GetActivation},
    {M::kDelete, "/v1/tenants/{tenant}/activations/{activation}", "deleteActivation", O | A, 0, h::DeleteActivation},
    {M::kPost, "/v1/tenants/{tenant}/connectors", "createConnector", O | A, kBody, h::CreateConnector},
    {M::kGet, "/v1/tenants/{tenant}/connectors", "listConnectors", O | A | R, 0, h::ListConnectors},
    {M::kGet, "/v1/tenants/{tenant}/connectors/{connector}", "getConnector", O | A | R, 0, h::GetConnector},
    {M::kPatch, "/v1/tenants/{tenant}/connectors/{connector}", "updateConnector", O | A, kBody, h::PatchConnector},
    {M::kDelete, "/v1/tenants/{tenant}/connectors/{connector}", "deleteConnector", O | A, 0, h::DeleteConnector},
};

}  // namespace

std::span<const Route> EnrollRoutes() { return kEnrollRoutes; }

}  // namespace strait::control
