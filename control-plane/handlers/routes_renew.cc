// The renewal routes (docs/control-plane.md §4.8, §6.5): the subject itself only, with its current credential or an
// expired one within the grace period (kWhoGrace: machine_auth.cc).
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
constexpr uint16_t S = kWhoSelf | kWhoGrace;
constexpr size_t kBody = kDefaultBodyLimit;

constexpr Route kRenewRoutes[] = {
    {M::kPost, "/v1/relays/{relay}/renew", "renewRelay", S, kBody, h::RenewRelay},
    {M::kPost, "/v1/tenants/{tenant}/devices/{device}/renew", "renewDevice", S, kBody, h::RenewDevice},
    {M::kPost, "/v1/tenants/{tenant}/connectors/{connector}/renew", "renewConnector", S, kBody, h::RenewConnector},
};

}  // namespace

std::span<const Route> RenewRoutes() { return kRenewRoutes; }

}  // namespace strait::control
