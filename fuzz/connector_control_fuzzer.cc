// connector_control_fuzzer: an event stream (NDJSON, tunnel/control/event_line.h) applied by ConnectorControl
// (tunnel/connector/control_apply.h) to a PolicySet and DeviceDenials (the loop's state, here without a loop),
// checked against a model made of std::map.
// Properties: nothing crashes; events of another tenant change nothing; after every event each probe device faces
// exactly the policy the model says (its own if held, else the default if held, else deny-all), and is denied
// exactly when the model says; the epoch grows with every change; self_revoked comes only from connector.revoked of
// this connector or tenant.deleted of this tenant.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/connector/control_apply.h"

namespace {

using namespace strait::connector;  // NOLINT: a fuzzer's one file
namespace control = strait::control;

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::uint64_t kNow = 1'800'000'000;

// Applies the calls to the real containers and to the model.
struct Target final : ControlTarget {
  PolicySet set;
  DeviceDenials denials;
  std::map<std::string, PolicyPtr> policies;  // model
  std::optional<std::string> default_id;
  std::map<std::string, std::string> devices;
  std::map<std::string, std::uint64_t> denied;
  bool suspended = false;
  std::uint64_t changes = 0;

  bool ReplaceControlState(ControlState) override { return false; }  // events only here
  bool PutPolicy(std::string id, PolicyPtr policy, bool is_default) override {
    set.Put(id, policy, is_default);
    policies[id] = policy;
    if (is_default) {
      default_id = id;
    } else if (default_id == id) {
      default_id.reset();
    }
    ++changes;
    return true;
  }
  bool DeletePolicy(std::string id) override {
    set.Remove(id);
    policies.erase(id);
    if (default_id == id) default_id.reset();
    ++changes;
    return true;
  }
  bool SetDevicePolicy(std::string device, std::optional<std::string> policy) override {
    set.SetDevice(device, policy);
    if (policy) {
      devices[device] = *policy;
    } else {
      devices.erase(device);
    }
    ++changes;
    return true;
  }
  bool DenyDevice(DeviceDenial d) override {
    if (denials.Deny(d, kNow)) denied[d.device] = d.until;  // one already over is ignored by both
    return true;
  }
  bool LiftDevice(std::string device) override {
    Check(denials.Lift(device) == (denied.erase(device) == 1));
    return true;
  }
  bool SuspendTenant() override {
    suspended = true;
    return true;
  }
  bool ResumeTenant() override {
    suspended = false;
    return true;
  }
  bool RevokeRelay(std::string) override { return true; }

  const PolicyPtr& Expected(const std::string& device) const {
    if (auto d = devices.find(device); d != devices.end()) {
      if (auto p = policies.find(d->second); p != policies.end()) return p->second;
    }
    if (default_id) {
      if (auto p = policies.find(*default_id); p != policies.end()) return p->second;
    }
    return PolicySet::DenyAll();
  }
};

const char* const kProbes[] = {"d1", "d2", "phone", "laptop", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Target target;
  ConnectorControl c(target, ConnectorControlOptions{"acme", "dc1", {}});
  control::EventReader reader(4096);
  std::vector<control::Event> events;
  (void)reader.Feed(std::string_view(reinterpret_cast<const char*>(data), size), &events);
  for (const control::Event& e : events) {
    const std::uint64_t epoch = target.set.epoch();
    const std::uint64_t changes = target.changes;
    const std::uint64_t other = c.stats().events_other_tenant;
    const control::SubscriberVerdict v = c.ApplyEvent(e, kNow);
    if (v == control::SubscriberVerdict::kStop) {
      const auto* revoked = std::get_if<control::ConnectorRevoked>(&e.body);
      const auto* tenant = std::get_if<control::TenantChanged>(&e.body);
      Check((revoked != nullptr && revoked->tenant == "acme" && revoked->connector == "dc1") ||
            (tenant != nullptr && tenant->tenant == "acme" && e.type == control::EventType::kTenantDeleted));
    }
    if (c.stats().events_other_tenant != other) Check(target.changes == changes);
    Check(target.set.epoch() - epoch == target.changes - changes);
    for (const char* probe : kProbes) {
      Check(target.set.For(probe) == target.Expected(probe));
      auto d = target.denied.find(probe);
      Check(target.denials.IsDenied(probe, kNow) == (d != target.denied.end() && d->second >= kNow));
    }
  }
  return 0;
}
