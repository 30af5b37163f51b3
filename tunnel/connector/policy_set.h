// PolicySet: which destination policy (policy.h) each device's streams and packets face (docs/control-plane.md
// §7.3, docs/connector.md "Policies and denials from the control plane"). The control plane sends the tenant's
// policies (id -> TOML, one of them the default) and the devices that are not on the default (device -> policy
// id); the subscriber thread compiles each TOML with ParsePolicy and posts the compiled Policy to the loop, where
// this set holds them:
//
//   policies      policy id -> shared_ptr<const Policy> (immutable once built; shared with the streams that were
//                 opened under it, so a swapped-out policy lives until its last resolving stream is answered)
//   devices       device id -> policy id (devices not on the default)
//   default       a policy id, or none
//   epoch         bumped by every change
//
// For(device): the device's policy if it names one this set holds, else the default, else the deny-all policy
// (nothing received yet, or the default failed to parse: deny every stream and packet, never allow by accident).
// A DeviceSession keeps the pointer For() gave it with the epoch it was taken at and asks again only when epoch()
// differs: one integer compare per OPEN and per packet, no lookup.
//
// A connector run with a single --policy file holds one policy, the default, and never changes it.
// Bounds: policies and device entries come from one tenant's control plane, which bounds them (docs/control-
// plane.md §8: 64 policies and 200,000 devices per tenant); nothing here grows on data-plane input. The set keeps
// its own bounds above those (PolicySetLimits) so that a broken control plane cannot grow it either: a new policy
// or device entry beyond them is refused and counted (over_bound()), a snapshot beyond them keeps the first ones.
// Threading: loop thread only (the Connector posts changes to its loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tunnel/connector/policy.h"

namespace strait::connector {

using PolicyPtr = std::shared_ptr<const Policy>;

struct PolicySetLimits {
  std::size_t max_policies = 256;          // the control plane holds at most 64 per tenant
  std::size_t max_devices = 262'144;       // devices not on the default; the control plane: 200,000 per tenant
};

// A whole set at once (a snapshot, or the single --policy file).
struct PolicySetState {
  std::unordered_map<std::string, PolicyPtr> policies;  // id -> compiled policy (non-null)
  std::optional<std::string> default_id;                // one of `policies`, or none
  std::unordered_map<std::string, std::string> devices;  // device -> policy id (devices not on the default)
};

class PolicySet {
 public:
  // No policy: every device gets the deny-all policy.
  PolicySet() = default;
  // One default policy (a --policy file), id "default".
  explicit PolicySet(PolicyPtr single_default, PolicySetLimits limits = {});

  // Replaces everything (a snapshot). Entries beyond the limits are dropped and counted.
  void Replace(PolicySetState state);
  // policy.updated: adds or replaces `id`. is_default: it becomes the default; not default while it was the
  // default: the set has no default until another policy is made the default. False: a new id beyond
  // max_policies (counted, nothing changed).
  bool Put(const std::string& id, PolicyPtr policy, bool is_default);
  // policy.deleted: drops it; devices that named it fall to the default (their entries stay, harmless: a later
  // policy of that id is a different policy only if the control plane reused an id, which it never does).
  // Returns whether it was held.
  bool Remove(const std::string& id);
  // device.policy: `policy` nullopt: the device goes back to the default. False: a new device beyond max_devices
  // (counted; the device stays on the default).
  bool SetDevice(const std::string& device, std::optional<std::string> policy);

  // The policy `device` faces now; never null (the deny-all policy when nothing applies). The reference stays
  // valid until the next change (copy the shared_ptr to keep the policy longer).
  const PolicyPtr& For(std::string_view device) const;
  // The default's policy (or deny-all): what a session whose device is not known yet, and the IP tunnel's
  // fallback, face.
  const PolicyPtr& Default() const;
  std::uint64_t epoch() const { return epoch_; }

  std::size_t policies() const { return policies_.size(); }
  std::size_t devices() const { return devices_.size(); }
  bool has_default() const { return default_id_.has_value() && policies_.contains(*default_id_); }
  // Policies and device entries refused by the limits, since construction.
  std::uint64_t over_bound() const { return over_bound_; }
  // The deny-all policy (one per process, immutable).
  static const PolicyPtr& DenyAll();

 private:
  // Loop thread only.
  std::unordered_map<std::string, PolicyPtr> policies_;
  std::unordered_map<std::string, std::string> devices_;
  std::optional<std::string> default_id_;
  PolicySetLimits limits_;
  std::uint64_t over_bound_ = 0;
  std::uint64_t epoch_ = 1;  // starts at 1 so a session's 0 always looks again
};

}  // namespace strait::connector
