// The connector under the control plane (docs/control-plane.md §7.2, §7.3), end to end on real links: a
// ConnectorControl feeds a real Connector (its ControlTarget) with a snapshot and events while a device talks to it
// over Direct Connect. A changed policy applies to the next OPEN while an open stream stays; device.policy moves a
// device between policies; device.revoked closes its session with SESSION_CLOSE revoked and refuses its next
// SESSION_INIT and its Direct Connect login until device.unlocked; tenant.suspended closes every session.
#include <gtest/gtest.h>

#include "tests/connector/connector_test_fixture.h"
#include "tunnel/connector/control_apply.h"

namespace strait::connector::testing {
namespace {

// Allows only 10.0.0.0/8: the test's loopback targets are refused under it.
constexpr char kOnlyTen[] = R"(
version = 1
[[allow]]
cidrs = ["10.0.0.0/8"]
ports = ["*"]
)";

control::Event MakeEvent(control::EventType type, control::EventBody body) {
  static std::uint64_t next_id = 100;
  control::Event e;
  e.id = ++next_id;
  e.type = type;
  e.body = std::move(body);
  return e;
}

control::Event PolicyUpdated(std::string id, std::uint64_t version, bool is_default, std::string toml) {
  return MakeEvent(control::EventType::kPolicyUpdated,
                   control::PolicyUpdated{"acme", std::move(id), version, is_default, std::move(toml)});
}

control::Event DevicePolicy(std::string device, std::optional<std::string> policy) {
  return MakeEvent(control::EventType::kDevicePolicy, control::DevicePolicy{"acme", std::move(device), policy});
}

// Policy "a" (the fixture's loopback policy) as the default, and "b" (kOnlyTen).
control::ConnectorSnapshot TwoPolicies() {
  control::ConnectorSnapshot s;
  s.as_of = 100;
  s.policies.push_back({"a", 1, true, kPolicy});
  s.policies.push_back({"b", 1, false, kOnlyTen});
  return s;
}

struct ConnectorControlTest : ConnectorTest {
  std::unique_ptr<ConnectorControl> control;
  void StartControlled() {
    StartConnector(Options());
    control = std::make_unique<ConnectorControl>(*connector, ConnectorControlOptions{"acme", "dc1", {}});
  }
  void Apply(const control::Event& e) { EXPECT_EQ(control->ApplyEvent(e, NowUnix()), control::SubscriberVerdict::kContinue); }
};

TEST_F(ConnectorControlTest, ChangedPolicyRefusesTheNextOpenWhileAnOpenStreamStays) {
  StartControlled();
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  const auto a = Pattern(5000, 1);
  const auto b = Pattern(7000, 2);
  StreamId first = 0, second = 0;
  std::uint64_t epoch = 0;
  Stepper s(*loop,
            {{[&] { return d.established(); },
              [&] { EXPECT_EQ(control->ApplySnapshot(TwoPolicies(), NowUnix()), control::SubscriberVerdict::kContinue); }},
             {[&] { return connector->policies().policies() == 2; },
              [&] {
                first = d.OpenIp(echo.address);
                d.Send(first, a, false);
              }},
             {[&] { return d.streams[first].received.size() == a.size(); },
              [&] {
                epoch = connector->policies().epoch();
                Apply(PolicyUpdated("a", 2, true, kOnlyTen));  // the default no longer allows loopback
              }},
             {[&] { return connector->policies().epoch() != epoch; }, [&] { second = d.OpenIp(echo.address); }},
             {[&] { return d.streams[second].reset.has_value(); },
              [&] {
                EXPECT_EQ(*d.streams[second].reset, ErrorCode::kRefusedByPolicy);
                d.Send(first, b, true);  // the stream opened before the change still carries bytes both ways
              }},
             {[&] { return d.streams[first].fin; }, {}}});
  d.on_change = echo.notify = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  std::vector<std::uint8_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  EXPECT_EQ(d.streams[first].received, both);
  EXPECT_FALSE(d.streams[first].reset.has_value());
  EXPECT_EQ(connector->stats().refused(RefuseReason::kPolicy), 1u);
  EXPECT_EQ(connector->stats().streams_opened, 1u);
}

TEST_F(ConnectorControlTest, DevicePolicyMovesTheDeviceAndNullReturnsItToTheDefault) {
  StartControlled();
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  StreamId s1 = 0, s2 = 0, s3 = 0;
  std::uint64_t epoch = 0;
  Stepper s(*loop,
            {{[&] { return d.established(); },
              [&] { EXPECT_EQ(control->ApplySnapshot(TwoPolicies(), NowUnix()), control::SubscriberVerdict::kContinue); }},
             {[&] { return connector->policies().policies() == 2; }, [&] { s1 = d.OpenIp(echo.address); }},
             {[&] { return d.streams[s1].accepted; },
              [&] {
                epoch = connector->policies().epoch();
                Apply(DevicePolicy("phone", "b"));
              }},
             {[&] { return connector->policies().epoch() != epoch; }, [&] { s2 = d.OpenIp(echo.address); }},
             {[&] { return d.streams[s2].reset.has_value(); },
              [&] {
                EXPECT_EQ(*d.streams[s2].reset, ErrorCode::kRefusedByPolicy);
                epoch = connector->policies().epoch();
                Apply(DevicePolicy("phone", std::nullopt));
              }},
             {[&] { return connector->policies().epoch() != epoch; }, [&] { s3 = d.OpenIp(echo.address); }},
             {[&] { return d.streams[s3].accepted; }, {}}});
  d.on_change = echo.notify = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(connector->stats().refused(RefuseReason::kPolicy), 1u);
  EXPECT_EQ(connector->stats().streams_opened, 2u);
}

TEST_F(ConnectorControlTest, RevokedDeviceIsClosedAndRefusedUntilUnlocked) {
  StartControlled();
  Device d(*loop, pki, dev, "acme");
  Device again(*loop, pki, dev, "acme");  // a fresh Direct Connect login of the same device while it is denied
  const std::uint64_t until = NowUnix() + 3600;
  Stepper s(*loop,
            {{[&] { return d.established(); },
              [&] {
                Apply(MakeEvent(control::EventType::kDeviceRevoked,
                                control::DeviceDenied{"acme", "phone", until, "lost"}));
              }},
             {[&] { return d.session_closed; },
              [&] {
                EXPECT_EQ(d.close_code, ErrorCode::kRevoked);
                d.RequestSession();  // a new SESSION_INIT on the same link
              }},
             {[&] { return d.session_closed && connector->stats().sessions_refused_revoked == 1; },
              [&] {
                EXPECT_EQ(d.close_code, ErrorCode::kRevoked);
                EXPECT_FALSE(d.established());
                again.Connect(*connector->direct_address());
              }},
             {[&] { return again.link_down.has_value(); },
              [&] {
                EXPECT_EQ(connector->stats().direct_logins_refused_revoked, 1u);
                // ERROR revoked instead of HELLO_ACK: the login never came up.
                EXPECT_FALSE(again.link_down->was_up);
                EXPECT_EQ(again.link_down->code, static_cast<std::uint16_t>(ErrorCode::kRevoked));
                EXPECT_EQ(connector->stats().direct_links_up, 1u);
                Apply(MakeEvent(control::EventType::kDeviceUnlocked, control::DeviceUnlocked{"acme", "phone"}));
              }},
             {[&] { return connector->denials().size() == 0; }, [&] { d.RequestSession(); }},
             {[&] { return d.established(); }, {}}});
  d.on_change = again.on_change = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(connector->stats().sessions_closed_revoked, 1u);
  EXPECT_EQ(connector->stats().sessions_refused_revoked, 1u);
  EXPECT_EQ(connector->stats().sessions_up, 2u);
  EXPECT_EQ(connector->denials().size(), 0u);
}

TEST_F(ConnectorControlTest, SuspendedTenantClosesEverySessionAndResumeServesAgain) {
  StartControlled();
  Device d(*loop, pki, dev, "acme");
  Stepper s(*loop,
            {{[&] { return d.established(); },
              [&] { Apply(MakeEvent(control::EventType::kTenantSuspended, control::TenantChanged{"acme"})); }},
             {[&] { return d.session_closed; },
              [&] {
                EXPECT_EQ(d.close_code, ErrorCode::kUnauthorized);
                d.RequestSession();
              }},
             {[&] { return d.session_closed && connector->stats().sessions_refused_suspended == 1; },
              [&] { Apply(MakeEvent(control::EventType::kTenantResumed, control::TenantChanged{"acme"})); }},
             {[&] { return !connector->tenant_suspended(); }, [&] { d.RequestSession(); }},
             {[&] { return d.established(); }, {}}});
  d.on_change = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(connector->stats().sessions_closed_suspended, 1u);
  EXPECT_FALSE(connector->tenant_suspended());
}

// A connector with no policy at all (enrolled, nothing received yet) refuses every stream.
TEST_F(ConnectorControlTest, NoPolicyYetRefusesEveryStream) {
  ConnectorOptions o = Options();
  o.policy = Policy();
  StartConnector(std::move(o));
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  StreamId id = 0;
  Stepper s(*loop, {{[&] { return d.established(); }, [&] { id = d.OpenIp(echo.address); }},
                    {[&] { return d.streams[id].reset.has_value(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(*d.streams[id].reset, ErrorCode::kRefusedByPolicy);
}

}  // namespace
}  // namespace strait::connector::testing
