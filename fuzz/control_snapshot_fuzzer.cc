// control_snapshot_fuzzer: bytes as a relay's and as a connector's snapshot (tunnel/control/snapshot.h).
// Properties: nothing crashes or reads out of bounds; an accepted snapshot holds only valid ids and roles, lists
// within their bounds, unique policy ids with at most one default, and device policies that name one of its
// policies; every refusal has a reason.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "tunnel/control/control_wire.h"
#include "tunnel/control/snapshot.h"

namespace {

namespace control = strait::control;
namespace wire = strait::control::wire;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckDenied(const std::vector<control::SnapshotDenial>& denied) {
  Check(denied.size() <= wire::kMaxSnapshotDenials);
  for (const auto& d : denied) {
    Check(d.role == strait::crypto::Role::kDevice || d.role == strait::crypto::Role::kConnector);
    Check(wire::IsTenantId(d.tenant) && wire::IsSubjectId(d.subject));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto r = control::DecodeRelaySnapshot(text);
  if (r.ok()) {
    CheckDenied(r->denied);
    for (const auto& t : r->suspended_tenants) Check(wire::IsTenantId(t));
    for (const auto& id : r->revoked_relays) Check(wire::IsSubjectId(id));
  } else {
    Check(!r.error().reason.empty());
  }

  auto c = control::DecodeConnectorSnapshot(text);
  if (c.ok()) {
    CheckDenied(c->denied);
    Check(c->policies.size() <= wire::kMaxSnapshotPolicies);
    std::set<std::string> ids;
    int defaults = 0;
    for (const auto& p : c->policies) {
      Check(!p.id.empty() && ids.insert(p.id).second);
      defaults += p.is_default ? 1 : 0;
    }
    Check(defaults <= 1);
    std::set<std::string> devices;
    for (const auto& d : c->device_policies) {
      Check(ids.contains(d.policy) && wire::IsSubjectId(d.device) && devices.insert(d.device).second);
    }
  } else {
    Check(!c.error().reason.empty());
  }
  return 0;
}
