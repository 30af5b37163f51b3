// The devices of a tenant that have a policy of their own (docs/control-plane.md §7.2: a connector snapshot's
// device_policies), shared by policies.cc, which computes effective policies, and events.cc, which builds the
// snapshot.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "control-plane/store/store.h"

namespace strait::control::handlers {

// Every device whose effective policy comes from its user's or a group's assignment (via user or group), as
// (device id, policy id), in user then device order: exactly the devices device.policy events name a policy for.
// Devices that follow the default (or have none) are left out: the connector applies the default to them. Reads
// every user's assignments and groups in `tx` (one read transaction: the answer is as of the snapshot's as_of).
store::StoreResult<std::vector<std::pair<std::string, std::string>>> DevicesWithOwnPolicy(
    store::ReadTx& tx, const store::TenantScope& scope);

}  // namespace strait::control::handlers
