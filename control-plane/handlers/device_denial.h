// Denying a device (docs/control-plane.md §4.8 lock / revoke / delete, §7.2, §7.3): the denial row relays and
// connectors refuse it by, and the event that tells them now. Shared by devices.cc and users.cc (a user's delete
// revokes its devices), so every path that cuts a device off writes the same rows and the same event.
#pragma once

#include <string_view>

#include "control-plane/handlers/context.h"

namespace strait::control {

// How long a denial of `device` must last: until the last of the credentials the store keeps for it expires (the
// newest, or an older one that outlives it; after that no credential of it verifies, so the denial can go, §5.2
// `denials`), or `now` if it never had one.
store::StoreResult<int64_t> DenialUntil(store::ReadTx& tx, const store::TenantScope& scope, std::string_view device,
                                        int64_t now);

// Puts (or replaces) the device's denial with `denial` and appends `event_type` (device.locked or device.revoked)
// with tenant, device, until and the admin's `reason`, in `tx`. Returns the `until` written.
store::StoreResult<int64_t> DenyDevice(const Context& ctx, store::WriteTx& tx, std::string_view device,
                                       store::DenialReason denial, std::string_view event_type,
                                       std::string_view reason);

// Lifts a lock: removes the denial and appends device.unlocked (tenant, device, reason), in `tx`.
store::StoreResult<void> LiftDeviceLock(const Context& ctx, store::WriteTx& tx, std::string_view device,
                                      std::string_view reason);

}  // namespace strait::control
