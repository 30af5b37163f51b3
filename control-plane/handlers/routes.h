// The route table (docs/control-plane.md §4.8): one row per route with its method, template, OpenAPI operationId,
// who may call it, its body limit and its handler. The router, the auth check, the OpenAPI test and the authz test
// all read this table, so a route exists in one place.
#pragma once

#include <span>

#include "control-plane/handlers/context.h"

namespace strait::control {

// Every route: the groups below, in order.
std::span<const Route> ApiRoutes();

// The groups, one per area (each defined next to its handlers, in routes_<area>.cc or routes.cc).
std::span<const Route> CoreRoutes();    // tenants, licences, API keys, audit, health, OpenAPI
std::span<const Route> EventRoutes();   // relays' and connectors' snapshots and event streams
std::span<const Route> PolicyRoutes();  // policies, assignments, effective policy (routes_policies.cc)
std::span<const Route> PeopleRoutes();  // users, groups, members, devices (admin routes): routes_people.cc
std::span<const Route> EnrollRoutes();  // activations, /v1/activate, connectors, relays (routes_enroll.cc)
std::span<const Route> RenewRoutes();   // devices', connectors' and relays' own renewal (routes_renew.cc)

}  // namespace strait::control
