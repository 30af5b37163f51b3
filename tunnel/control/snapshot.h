// Snapshots (docs/control-plane.md §7.2; the JSON is control_wire.h's): the state a relay or a connector starts
// from (and returns to after 410 events-expired), built by the control plane in one read transaction, then
// followed with events after `as_of` (EventReader::set_resume_point). Decoding only: what a daemon does with it
// (the relay's DenyList::Replace, the connector's PolicySet) is its own wiring.
//
// Reading rules as for bundles: unknown fields ignored, the used ones required and checked (ids, times, list
// bounds from control_wire.h). Setup-path code: Result-returning, allocation is fine. Free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/result.h"
#include "tunnel/control/wire_error.h"

namespace strait::control {

struct SnapshotDenial {
  crypto::Role role = crypto::Role::kDevice;  // device or connector
  std::string tenant;
  std::string subject;
  std::string reason;  // "" when absent
  uint64_t until = 0;  // unix seconds, inclusive
};

struct RelaySnapshot {
  uint64_t as_of = 0;  // follow with events after=as_of
  std::vector<SnapshotDenial> denied;
  std::vector<std::string> suspended_tenants;
  std::vector<std::string> revoked_relays;
};

struct SnapshotPolicy {
  std::string id;
  uint64_t version = 0;
  bool is_default = false;
  std::string toml;  // not parsed here (the connector's ParsePolicy)
};

struct SnapshotDevicePolicy {
  std::string device;
  std::string policy;  // a policy id of `policies`
};

struct ConnectorSnapshot {
  uint64_t as_of = 0;
  bool tenant_suspended = false;  // tenant_state "suspended" (else "active")
  std::vector<SnapshotPolicy> policies;
  std::vector<SnapshotDevicePolicy> device_policies;  // devices not on the default
  std::vector<SnapshotDenial> denied;
  std::vector<std::string> revoked_relays;
};

// At most wire::kMaxSnapshotBytes each. Duplicate policy ids are refused (kBadValue), as is a device policy naming
// a policy the snapshot does not hold, or more than one default policy.
Result<RelaySnapshot, WireResultError> DecodeRelaySnapshot(std::string_view json);
Result<ConnectorSnapshot, WireResultError> DecodeConnectorSnapshot(std::string_view json);

}  // namespace strait::control
