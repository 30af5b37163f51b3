// ConnectorControl (tunnel/connector/control_apply.h) against a recording ControlTarget: what a snapshot compiles
// to (a policy that fails to parse is left out and its devices fall to the default), which events apply (our
// tenant's only), the verdicts (resync, self_revoked), a refused change turning into a resync, and the snapshot
// cache file (round trip, 0600, refusals).
#include "tunnel/connector/control_apply.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace strait::connector {
namespace {

constexpr char kLoopback[] = "version = 1\n[[allow]]\ncidrs = [\"127.0.0.0/8\"]\nports = [\"*\"]\n";
constexpr char kTen[] = "version = 1\n[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [\"443\"]\n";
constexpr char kBroken[] = "version = 1\n[[allow]]\ncidrs = [\"10.0.0.300/8\"]\nports = [\"*\"]\n";

// Records every call; `accept` false refuses them (a full queue).
struct FakeTarget final : ControlTarget {
  bool accept = true;
  std::vector<std::string> calls;
  std::optional<ControlState> state;
  std::vector<std::pair<std::string, PolicyPtr>> put;
  std::vector<DeviceDenial> denied;

  bool Call(std::string what) {
    calls.push_back(std::move(what));
    return accept;
  }
  bool ReplaceControlState(ControlState s) override {
    state = std::move(s);
    return Call("replace");
  }
  bool PutPolicy(std::string id, PolicyPtr policy, bool is_default) override {
    put.emplace_back(id, policy);
    return Call("put " + id + (is_default ? " default" : ""));
  }
  bool DeletePolicy(std::string id) override { return Call("delete " + id); }
  bool SetDevicePolicy(std::string device, std::optional<std::string> policy) override {
    return Call("device " + device + " " + policy.value_or("(default)"));
  }
  bool DenyDevice(DeviceDenial d) override {
    denied.push_back(d);
    return Call("deny " + d.device);
  }
  bool LiftDevice(std::string device) override { return Call("lift " + device); }
  bool SuspendTenant() override { return Call("suspend"); }
  bool ResumeTenant() override { return Call("resume"); }
  bool RevokeRelay(std::string relay) override { return Call("revoke relay " + relay); }
};

constexpr std::uint64_t kNow = 1'800'000'000;

control::Event Ev(control::EventType type, control::EventBody body) {
  control::Event e;
  e.id = 1;
  e.type = type;
  e.body = std::move(body);
  return e;
}

struct ControlApplyTest : ::testing::Test {
  FakeTarget target;
  std::vector<std::string> log;
  ConnectorControl control{target, ConnectorControlOptions{"acme", "dc1", [this](const logging::Event& e) {
                                                             log.push_back(logging::Describe(e));
                                                           }}};
};

TEST_F(ControlApplyTest, SnapshotLeavesOutAPolicyThatFailsToParseAndKeepsTheOthers) {
  control::ConnectorSnapshot s;
  s.policies = {{"a", 3, true, kLoopback}, {"b", 1, false, kBroken}, {"c", 2, false, kTen}};
  s.device_policies = {{"phone", "b"}, {"laptop", "c"}};
  s.denied = {{crypto::Role::kDevice, "acme", "lost-phone", "lost", kNow + 60},
              {crypto::Role::kDevice, "acme", "old", "", kNow - 1},          // over: dropped
              {crypto::Role::kDevice, "globex", "theirs", "", kNow + 60},    // another tenant: not ours
              {crypto::Role::kConnector, "acme", "dc2", "", kNow + 60}};     // another connector: the relay's
  s.revoked_relays = {"relay-9"};
  s.tenant_suspended = true;
  EXPECT_EQ(control.ApplySnapshot(s, kNow), control::SubscriberVerdict::kContinue);
  ASSERT_TRUE(target.state.has_value());
  const ControlState& st = *target.state;
  EXPECT_EQ(st.policies.policies.size(), 2u);
  EXPECT_TRUE(st.policies.policies.contains("a"));
  EXPECT_TRUE(st.policies.policies.contains("c"));
  EXPECT_EQ(st.policies.default_id, "a");
  ASSERT_EQ(st.denied.size(), 1u);
  EXPECT_EQ(st.denied[0].device, "lost-phone");
  EXPECT_EQ(st.denied[0].until, kNow + 60);
  EXPECT_TRUE(st.tenant_suspended);
  EXPECT_EQ(st.revoked_relays, std::vector<std::string>{"relay-9"});
  EXPECT_EQ(control.stats().policies_rejected, 1u);
  EXPECT_EQ(control.stats().snapshots, 1u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(log[0].starts_with("policy_rejected")) << log[0];

  // In a PolicySet, the device of the broken policy falls to the default; the other keeps its own.
  PolicySet set;
  set.Replace(target.state->policies);
  EXPECT_EQ(set.For("phone"), set.Default());
  EXPECT_EQ(set.For("laptop"), target.state->policies.policies.at("c"));
  EXPECT_TRUE(set.For("phone")->Decide(*IpAddress::Parse("127.0.0.1"), 80).allowed());
  EXPECT_FALSE(set.For("laptop")->Decide(*IpAddress::Parse("127.0.0.1"), 80).allowed());
}

TEST_F(ControlApplyTest, SnapshotWhoseDefaultFailsLeavesDenyAll) {
  control::ConnectorSnapshot s;
  s.policies = {{"a", 1, true, kBroken}};
  EXPECT_EQ(control.ApplySnapshot(s, kNow), control::SubscriberVerdict::kContinue);
  PolicySet set;
  set.Replace(target.state->policies);
  EXPECT_FALSE(set.has_default());
  EXPECT_EQ(set.For("anyone"), PolicySet::DenyAll());
}

TEST_F(ControlApplyTest, SnapshotDenyingThisConnectorIsSelfRevoked) {
  control::ConnectorSnapshot s;
  s.denied = {{crypto::Role::kConnector, "acme", "dc1", "compromised", kNow + 60}};
  EXPECT_EQ(control.ApplySnapshot(s, kNow), control::SubscriberVerdict::kStop);
  EXPECT_TRUE(target.calls.empty());
}

TEST_F(ControlApplyTest, EventsMapToTargetCallsAndVerdicts) {
  using T = control::EventType;
  struct Case {
    control::Event event;
    control::SubscriberVerdict verdict;
    std::string call;  // "" : no call
  };
  const std::vector<Case> cases = {
      {Ev(T::kHeartbeat, control::Heartbeat{}), control::SubscriberVerdict::kContinue, ""},
      {Ev(T::kDeviceRevoked, control::DeviceDenied{"acme", "phone", kNow + 60, "lost"}), control::SubscriberVerdict::kContinue,
       "deny phone"},
      {Ev(T::kDeviceLocked, control::DeviceDenied{"acme", "tab", kNow + 60, ""}), control::SubscriberVerdict::kContinue,
       "deny tab"},
      {Ev(T::kDeviceUnlocked, control::DeviceUnlocked{"acme", "tab"}), control::SubscriberVerdict::kContinue, "lift tab"},
      {Ev(T::kConnectorRevoked, control::ConnectorRevoked{"acme", "dc2", kNow + 60, ""}), control::SubscriberVerdict::kContinue,
       ""},
      {Ev(T::kConnectorRevoked, control::ConnectorRevoked{"acme", "dc1", kNow + 60, ""}),
       control::SubscriberVerdict::kStop, ""},
      {Ev(T::kRelayRevoked, control::RelayRevoked{"relay-2", kNow + 60, ""}), control::SubscriberVerdict::kContinue,
       "revoke relay relay-2"},
      {Ev(T::kTenantSuspended, control::TenantChanged{"acme"}), control::SubscriberVerdict::kContinue, "suspend"},
      {Ev(T::kTenantResumed, control::TenantChanged{"acme"}), control::SubscriberVerdict::kContinue, "resume"},
      {Ev(T::kTenantDeleted, control::TenantChanged{"acme"}), control::SubscriberVerdict::kStop, ""},
      {Ev(T::kPolicyUpdated, control::PolicyUpdated{"acme", "a", 4, true, kLoopback}), control::SubscriberVerdict::kContinue,
       "put a default"},
      {Ev(T::kPolicyUpdated, control::PolicyUpdated{"acme", "b", 2, false, kBroken}), control::SubscriberVerdict::kContinue,
       "delete b"},  // a TOML this connector cannot read: the old version goes too
      {Ev(T::kPolicyDeleted, control::PolicyDeleted{"acme", "c"}), control::SubscriberVerdict::kContinue, "delete c"},
      {Ev(T::kDevicePolicy, control::DevicePolicy{"acme", "phone", "a"}), control::SubscriberVerdict::kContinue,
       "device phone a"},
      {Ev(T::kDevicePolicy, control::DevicePolicy{"acme", "phone", std::nullopt}), control::SubscriberVerdict::kContinue,
       "device phone (default)"},
      {Ev(T::kResync, control::Resync{std::nullopt, "big change"}), control::SubscriberVerdict::kResync, ""},
      {Ev(T::kResync, control::Resync{std::string("acme"), "group"}), control::SubscriberVerdict::kResync, ""},
      {Ev(T::kResync, control::Resync{std::string("globex"), "group"}), control::SubscriberVerdict::kContinue, ""},
      {Ev(T::kUnknown, control::UnknownEvent{"widget.made"}), control::SubscriberVerdict::kContinue, ""},
  };
  for (const Case& c : cases) {
    target.calls.clear();
    EXPECT_EQ(control.ApplyEvent(c.event, kNow), c.verdict) << control::EventTypeName(c.event.type) << " " << c.call;
    if (c.call.empty()) {
      EXPECT_TRUE(target.calls.empty()) << control::EventTypeName(c.event.type);
    } else {
      EXPECT_EQ(target.calls, std::vector<std::string>{c.call});
    }
  }
  ASSERT_EQ(target.put.size(), 1u);
  EXPECT_TRUE(target.put[0].second->Decide(*IpAddress::Parse("127.0.0.1"), 22).allowed());
  EXPECT_EQ(control.stats().policies_rejected, 1u);
}

TEST_F(ControlApplyTest, AnotherTenantsEventsAreSkippedAndCounted) {
  using T = control::EventType;
  const std::vector<control::Event> theirs = {
      Ev(T::kDeviceRevoked, control::DeviceDenied{"globex", "phone", kNow + 60, ""}),
      Ev(T::kDeviceUnlocked, control::DeviceUnlocked{"globex", "phone"}),
      Ev(T::kConnectorRevoked, control::ConnectorRevoked{"globex", "dc1", kNow + 60, ""}),  // same id, not us
      Ev(T::kTenantSuspended, control::TenantChanged{"globex"}),
      Ev(T::kTenantDeleted, control::TenantChanged{"globex"}),
      Ev(T::kPolicyUpdated, control::PolicyUpdated{"globex", "a", 1, true, kLoopback}),
      Ev(T::kPolicyDeleted, control::PolicyDeleted{"globex", "a"}),
      Ev(T::kDevicePolicy, control::DevicePolicy{"globex", "phone", "a"}),
  };
  for (const control::Event& e : theirs) EXPECT_EQ(control.ApplyEvent(e, kNow), control::SubscriberVerdict::kContinue);
  EXPECT_TRUE(target.calls.empty());
  EXPECT_EQ(control.stats().events_other_tenant, theirs.size());
  EXPECT_EQ(control.stats().events_applied, 0u);
}

TEST_F(ControlApplyTest, ARefusedChangeTurnsIntoAResync) {
  target.accept = false;
  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kDeviceRevoked,
                                  control::DeviceDenied{"acme", "phone", kNow + 60, ""}),
                               kNow),
            control::SubscriberVerdict::kResync);
  EXPECT_EQ(control.ApplySnapshot(control::ConnectorSnapshot{}, kNow), control::SubscriberVerdict::kResync);
  EXPECT_EQ(control.stats().target_refused, 2u);
  EXPECT_EQ(control.stats().snapshots, 0u);
}

// ---- the cache ----

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "strait-control-cache-XXXXXX").string();
    EXPECT_NE(mkdtemp(t.data()), nullptr);
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

constexpr char kSnapshotJson[] =
    R"({"as_of":"77","tenant_state":"suspended",)"
    R"("policies":[{"id":"a","version":3,"default":true,"toml":"version = 1\n"},)"
    R"({"id":"b","version":1,"default":false,"toml":"version = 1\n"}],)"
    R"("device_policies":[{"device":"phone","policy":"b"}],)"
    R"("denied":[{"tenant":"acme","role":"device","subject":"lost","until":"2030-01-01T00:00:00Z"}],)"
    R"("revoked_relays":["relay-9"]})";

TEST(SnapshotCache, RoundTripsThroughAPrivateFile) {
  TempDir dir;
  ASSERT_TRUE(SaveSnapshotCache(dir.path, kSnapshotJson).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path / kControlStateFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto s = LoadSnapshotCache(dir.path);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->as_of, 77u);
  EXPECT_TRUE(s->tenant_suspended);
  ASSERT_EQ(s->policies.size(), 2u);
  EXPECT_EQ(s->policies[0].id, "a");
  EXPECT_TRUE(s->policies[0].is_default);
  EXPECT_EQ(s->policies[0].version, 3u);
  ASSERT_EQ(s->device_policies.size(), 1u);
  EXPECT_EQ(s->device_policies[0].device, "phone");
  ASSERT_EQ(s->denied.size(), 1u);
  EXPECT_EQ(s->denied[0].subject, "lost");
  EXPECT_EQ(s->revoked_relays, std::vector<std::string>{"relay-9"});

  // A newer snapshot replaces the file whole.
  ASSERT_TRUE(SaveSnapshotCache(dir.path, R"({"as_of":"80","tenant_state":"active","policies":[],)"
                                          R"("device_policies":[],"denied":[],"revoked_relays":[]})")
                  .ok());
  auto t = LoadSnapshotCache(dir.path);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->as_of, 80u);
  EXPECT_TRUE(t->policies.empty());
}

TEST(SnapshotCache, RefusesAMissingOrUndecodableFile) {
  TempDir dir;
  EXPECT_FALSE(LoadSnapshotCache(dir.path).ok());
  std::ofstream(dir.path / kControlStateFile) << R"({"as_of":"77"})";  // policies missing
  auto s = LoadSnapshotCache(dir.path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("control-state.json"), std::string::npos) << s.error();
  EXPECT_FALSE(SaveSnapshotCache(dir.path / "no-such-dir", kSnapshotJson).ok());
}

}  // namespace
}  // namespace strait::connector
