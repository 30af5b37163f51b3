#include "control-plane/events/filter.h"

#include "tunnel/control/control_wire.h"

namespace strait::control::events {

bool Filter::Accepts(const store::EventRecord& e) const {
  namespace w = wire;
  const std::string_view t = e.type;
  if (kind == Kind::kRelay) {
    return t == w::kEventDeviceLocked || t == w::kEventDeviceRevoked || t == w::kEventDeviceUnlocked ||
           t == w::kEventConnectorRevoked || t == w::kEventRelayRevoked || t == w::kEventTenantSuspended ||
           t == w::kEventTenantResumed || t == w::kEventTenantDeleted || t == w::kEventResync;
  }
  if (t == w::kEventRelayRevoked) return true;
  if (t == w::kEventResync) return !e.tenant || *e.tenant == tenant;
  return e.tenant && *e.tenant == tenant;
}

}  // namespace strait::control::events
