// The snapshot and event-stream routes of relays and connectors (docs/control-plane.md §4.8, §7).
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
constexpr uint16_t O = kWhoOperator, A = kWhoAdmin, S = kWhoSelf;

constexpr Route kEventRoutes[] = {
    {M::kGet, "/v1/relays/{relay}/snapshot", "getRelaySnapshot", O | S, 0, h::GetRelaySnapshot},
    {M::kGet, "/v1/relays/{relay}/events", "getRelayEvents", O | S, 0, h::GetRelayEvents},
    {M::kGet, "/v1/tenants/{tenant}/connectors/{connector}/snapshot", "getConnectorSnapshot", O | A | S, 0,
     h::GetConnectorSnapshot},
    {M::kGet, "/v1/tenants/{tenant}/connectors/{connector}/events", "getConnectorEvents", O | A | S, 0,
     h::GetConnectorEvents},
};

}  // namespace

std::span<const Route> EventRoutes() { return kEventRoutes; }

}  // namespace strait::control
