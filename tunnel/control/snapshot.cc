#include "tunnel/control/snapshot.h"

#include <set>
#include <utility>

#include "tunnel/control/control_wire.h"
#include "tunnel/control/json_fields.h"

namespace strait::control {
namespace {

using internal::Json;
using internal::Need;
using internal::ObjectReader;

constexpr size_t kMaxReasonBytes = 256;
constexpr size_t kMaxPolicyIdBytes = 64;

std::string Str(std::optional<std::string_view> s) { return s ? std::string(*s) : std::string(); }
std::string Item(const ObjectReader& r, std::string_view field, size_t i) {
  return r.PointerTo(field) + "/" + std::to_string(i);
}

void ReadDenied(ObjectReader& r, std::vector<SnapshotDenial>* out) {
  const Json* list = r.Array(wire::kSnapshotDeniedField, Need::kRequired, wire::kMaxSnapshotDenials);
  if (list == nullptr) return;
  out->reserve(list->size());
  for (size_t i = 0; i < list->size() && r.ok(); ++i) {
    ObjectReader e((*list)[i], Item(r, wire::kSnapshotDeniedField, i));
    SnapshotDenial d;
    const auto role = e.String(wire::kDenialRoleField, Need::kRequired, 16);
    if (role == "device") {
      d.role = crypto::Role::kDevice;
    } else if (role == "connector") {
      d.role = crypto::Role::kConnector;
    } else if (role) {
      e.Fail(WireError::kBadValue, wire::kDenialRoleField, "expected device or connector");
    }
    d.tenant = Str(e.TenantId(wire::kDenialTenantField, Need::kRequired));
    d.subject = Str(e.SubjectId(wire::kDenialSubjectField, Need::kRequired));
    d.reason = Str(e.String(wire::kDenialReasonField, Need::kOptional, kMaxReasonBytes));
    d.until = e.Time(wire::kDenialUntilField, Need::kRequired).value_or(0);
    r.Adopt(e);
    out->push_back(std::move(d));
  }
}

// A list of ids: tenant ids (tenant_ids) or subject ids.
void ReadIds(ObjectReader& r, std::string_view field, size_t max_items, bool tenant_ids,
             std::vector<std::string>* out) {
  const Json* list = r.Array(field, Need::kRequired, max_items);
  if (list == nullptr) return;
  for (size_t i = 0; i < list->size() && r.ok(); ++i) {
    const Json& v = (*list)[i];
    if (!v.is_string()) {
      r.FailAt(WireError::kWrongType, Item(r, field, i), "expected a string");
      return;
    }
    const std::string& s = v.get_ref<const std::string&>();
    if (tenant_ids ? !wire::IsTenantId(s) : !wire::IsSubjectId(s)) {
      r.FailAt(WireError::kBadValue, Item(r, field, i), tenant_ids ? "not a tenant id" : "not a subject id");
      return;
    }
    out->push_back(s);
  }
}

}  // namespace

Result<RelaySnapshot, WireResultError> DecodeRelaySnapshot(std::string_view json) {
  auto parsed = internal::ParseBounded(json, wire::kMaxSnapshotBytes);
  if (!parsed) return Fail(parsed.error());
  ObjectReader r(*parsed, "");
  RelaySnapshot s;
  s.as_of = r.EventId(wire::kSnapshotAsOfField, Need::kRequired).value_or(0);
  ReadDenied(r, &s.denied);
  ReadIds(r, wire::kSnapshotSuspendedTenantsField, wire::kMaxSnapshotTenants, true, &s.suspended_tenants);
  ReadIds(r, wire::kSnapshotRevokedRelaysField, wire::kMaxBundleRelays, false, &s.revoked_relays);
  if (!r.ok()) return Fail(r.error());
  return s;
}

Result<ConnectorSnapshot, WireResultError> DecodeConnectorSnapshot(std::string_view json) {
  auto parsed = internal::ParseBounded(json, wire::kMaxSnapshotBytes);
  if (!parsed) return Fail(parsed.error());
  ObjectReader r(*parsed, "");
  ConnectorSnapshot s;
  s.as_of = r.EventId(wire::kSnapshotAsOfField, Need::kRequired).value_or(0);
  const auto state = r.String(wire::kSnapshotTenantStateField, Need::kRequired, 16);
  if (state == wire::kTenantStateSuspended) {
    s.tenant_suspended = true;
  } else if (state && *state != wire::kTenantStateActive) {
    r.Fail(WireError::kBadValue, wire::kSnapshotTenantStateField, "expected active or suspended");
  }

  std::set<std::string, std::less<>> policy_ids;
  bool have_default = false;
  if (const Json* list = r.Array(wire::kSnapshotPoliciesField, Need::kRequired, wire::kMaxSnapshotPolicies)) {
    for (size_t i = 0; i < list->size() && r.ok(); ++i) {
      ObjectReader e((*list)[i], Item(r, wire::kSnapshotPoliciesField, i));
      SnapshotPolicy p;
      p.id = Str(e.String(wire::kSnapshotPolicyIdField, Need::kRequired, kMaxPolicyIdBytes));
      p.version = e.Unsigned(wire::kSnapshotPolicyVersionField, Need::kRequired).value_or(0);
      p.is_default = e.Bool(wire::kSnapshotPolicyDefaultField, Need::kRequired).value_or(false);
      p.toml = Str(e.String(wire::kSnapshotPolicyTomlField, Need::kRequired, wire::kMaxPolicyTomlBytes));
      if (e.ok() && (p.id.empty() || !policy_ids.insert(p.id).second)) {
        e.Fail(WireError::kBadValue, wire::kSnapshotPolicyIdField, "empty or duplicate policy id");
      }
      if (e.ok() && p.is_default && std::exchange(have_default, true)) {
        e.Fail(WireError::kBadValue, wire::kSnapshotPolicyDefaultField, "a second default policy");
      }
      r.Adopt(e);
      s.policies.push_back(std::move(p));
    }
  }
  if (const Json* list =
          r.Array(wire::kSnapshotDevicePoliciesField, Need::kRequired, wire::kMaxSnapshotDevicePolicies)) {
    std::set<std::string, std::less<>> devices;
    for (size_t i = 0; i < list->size() && r.ok(); ++i) {
      ObjectReader e((*list)[i], Item(r, wire::kSnapshotDevicePoliciesField, i));
      SnapshotDevicePolicy d;
      d.device = Str(e.SubjectId(wire::kSnapshotDeviceField, Need::kRequired));
      d.policy = Str(e.String(wire::kSnapshotDevicePolicyField, Need::kRequired, kMaxPolicyIdBytes));
      if (e.ok() && !policy_ids.contains(d.policy)) {
        e.Fail(WireError::kBadValue, wire::kSnapshotDevicePolicyField, "names no policy of this snapshot");
      }
      if (e.ok() && !devices.insert(d.device).second) {
        e.Fail(WireError::kBadValue, wire::kSnapshotDeviceField, "a device listed twice");
      }
      r.Adopt(e);
      s.device_policies.push_back(std::move(d));
    }
  }
  ReadDenied(r, &s.denied);
  ReadIds(r, wire::kSnapshotRevokedRelaysField, wire::kMaxBundleRelays, false, &s.revoked_relays);
  if (!r.ok()) return Fail(r.error());
  return s;
}

}  // namespace strait::control
