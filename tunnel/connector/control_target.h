// ControlTarget: what the control plane may change in a running connector (docs/control-plane.md §7.3), as plain
// compiled values: no JSON, no TOML, no control-plane types. ConnectorControl (control_apply.h) turns snapshots and
// events into these calls on the subscriber thread; the Connector implements them by posting each change to its
// loop, where the PolicySet, the DeviceDenials and the sessions live. Tests drive ConnectorControl against a
// recording fake.
//
// Every call is [any thread]. It returns false when the change was not queued (the connector's bounded control
// queue is full, or it is stopping): the caller must not assume it applied, and resyncs (a snapshot replaces
// everything). Changes apply on the loop in the order they were queued.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tunnel/connector/device_denials.h"
#include "tunnel/connector/policy_set.h"

namespace strait::connector {

// A snapshot, compiled (policies parsed; the ones that failed are left out, their devices fall to the default).
struct ControlState {
  PolicySetState policies;
  std::vector<DeviceDenial> denied;
  bool tenant_suspended = false;
  std::vector<std::string> revoked_relays;  // relay ids (the relay's credential subject)
};

class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  // Replaces policies, denials, the tenant's state and the revoked relays (a snapshot); closes what the new state
  // denies.
  virtual bool ReplaceControlState(ControlState state) = 0;
  // policy.updated (compiled) / policy.deleted / device.policy (nullopt: back to the default).
  virtual bool PutPolicy(std::string id, PolicyPtr policy, bool is_default) = 0;
  virtual bool DeletePolicy(std::string id) = 0;
  virtual bool SetDevicePolicy(std::string device, std::optional<std::string> policy) = 0;
  // device.locked / device.revoked: closes the device's sessions (SESSION_CLOSE revoked) and refuses it until
  // `until`. device.unlocked: lifts it.
  virtual bool DenyDevice(DeviceDenial denial) = 0;
  virtual bool LiftDevice(std::string device) = 0;
  // tenant.suspended: closes every session, refuses new ones. tenant.resumed: serves again.
  virtual bool SuspendTenant() = 0;
  virtual bool ResumeTenant() = 0;
  // relay.revoked: closes the link to that relay and refuses it from then on.
  virtual bool RevokeRelay(std::string relay) = 0;
};

}  // namespace strait::connector
