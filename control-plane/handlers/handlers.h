// Every route handler (docs/control-plane.md §4.8), one function each, grouped by resource in <resource>.cc.
// routes.cc puts them in the route table; nothing else calls them.
#pragma once

#include "control-plane/handlers/context.h"

namespace strait::control::handlers {

// meta.cc
Outcome Health(Context& ctx);
Outcome OpenApi(Context& ctx);

// tenants.cc
Outcome CreateTenant(Context& ctx);
Outcome ListTenants(Context& ctx);
Outcome GetTenant(Context& ctx);
Outcome PatchTenant(Context& ctx);
Outcome DeleteTenant(Context& ctx);
Outcome GetLicence(Context& ctx);
Outcome PutLicence(Context& ctx);

// api_keys.cc
Outcome CreateOperatorApiKey(Context& ctx);
Outcome ListOperatorApiKeys(Context& ctx);
Outcome DeleteOperatorApiKey(Context& ctx);
Outcome CreateTenantApiKey(Context& ctx);
Outcome ListTenantApiKeys(Context& ctx);
Outcome DeleteTenantApiKey(Context& ctx);

// events.cc
Outcome GetRelaySnapshot(Context& ctx);
Outcome GetRelayEvents(Context& ctx);
Outcome GetConnectorSnapshot(Context& ctx);
Outcome GetConnectorEvents(Context& ctx);

// audit.cc
Outcome ListTenantAudit(Context& ctx);
Outcome ListAllAudit(Context& ctx);

// policies.cc
Outcome CreatePolicy(Context& ctx);
Outcome ListPolicies(Context& ctx);
Outcome GetPolicy(Context& ctx);
Outcome PutPolicy(Context& ctx);
Outcome DeletePolicy(Context& ctx);
Outcome CreateAssignment(Context& ctx);
Outcome ListAssignments(Context& ctx);
Outcome DeleteAssignment(Context& ctx);
Outcome GetEffectivePolicy(Context& ctx);

// users.cc
Outcome CreateUser(Context& ctx);
Outcome ListUsers(Context& ctx);
Outcome GetUser(Context& ctx);
Outcome PatchUser(Context& ctx);
Outcome DeleteUser(Context& ctx);

// groups.cc
Outcome CreateGroup(Context& ctx);
Outcome ListGroups(Context& ctx);
Outcome GetGroup(Context& ctx);
Outcome PatchGroup(Context& ctx);
Outcome DeleteGroup(Context& ctx);
Outcome ListGroupMembers(Context& ctx);
Outcome PutGroupMember(Context& ctx);
Outcome DeleteGroupMember(Context& ctx);

// devices.cc
Outcome ListDevices(Context& ctx);
Outcome GetDevice(Context& ctx);
Outcome PatchDevice(Context& ctx);
Outcome LockDevice(Context& ctx);
Outcome UnlockDevice(Context& ctx);
Outcome RevokeDevice(Context& ctx);
Outcome DeleteDevice(Context& ctx);
Outcome PutPushToken(Context& ctx);

// activations.cc
Outcome CreateActivation(Context& ctx);
Outcome ListActivations(Context& ctx);
Outcome GetActivation(Context& ctx);
Outcome DeleteActivation(Context& ctx);
Outcome CreateRelayActivation(Context& ctx);

// connectors.cc
Outcome CreateConnector(Context& ctx);
Outcome ListConnectors(Context& ctx);
Outcome GetConnector(Context& ctx);
Outcome PatchConnector(Context& ctx);
Outcome DeleteConnector(Context& ctx);

// relays.cc
Outcome CreateRelay(Context& ctx);
Outcome ListRelays(Context& ctx);
Outcome GetRelay(Context& ctx);
Outcome PatchRelay(Context& ctx);
Outcome DeleteRelay(Context& ctx);

// activate.cc
Outcome Activate(Context& ctx);

// renew.cc
Outcome RenewDevice(Context& ctx);
Outcome RenewConnector(Context& ctx);
Outcome RenewRelay(Context& ctx);

}  // namespace strait::control::handlers
