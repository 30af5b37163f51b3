// RelayControl (relay/control_apply.h) without links: which control::SubscriberVerdict each event type gives, and what it does to
// the relay's DenyList (docs/control-plane.md §7.3, relay column). The relay is real (port 0) but nothing logs in;
// relay_denials_test.cc checks the closes on real links.
#include "relay/control_apply.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/relay/relay_harness.h"

namespace strait::relay::testing {
namespace {

using control::Event;
using control::EventType;
using crypto::Role;
constexpr std::uint64_t kNow = 1'750'000'000;

Event Ev(EventType type, control::EventBody body) { return Event{7, type, kNow, std::move(body)}; }
DenyKey Dev(std::string subject, std::string tenant = "acme") {
  return {Role::kDevice, std::move(tenant), std::move(subject)};
}

class ControlApplyTest : public ::testing::Test, public RelayFixture {
 protected:
  void SetUp() override { Start(); }
  DenyList& list() { return relay->deny_list(); }
};

TEST_F(ControlApplyTest, EachEventTypeGivesItsStep) {
  RelayControl c(*relay, "relay-1");
  const struct {
    Event event;
    control::SubscriberVerdict step;
  } cases[] = {
      {Ev(EventType::kHeartbeat, control::Heartbeat{}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kDeviceLocked, control::DeviceDenied{"acme", "d-1", kNow + 60, "lost"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-2", kNow + 60, ""}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kDeviceUnlocked, control::DeviceUnlocked{"acme", "d-1"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kConnectorRevoked, control::ConnectorRevoked{"acme", "c-1", kNow + 60, ""}),
       control::SubscriberVerdict::kContinue},
      {Ev(EventType::kRelayRevoked, control::RelayRevoked{"relay-2", kNow + 60, ""}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kRelayRevoked, control::RelayRevoked{"relay-1", kNow + 60, "stolen"}), control::SubscriberVerdict::kStop},
      {Ev(EventType::kTenantSuspended, control::TenantChanged{"beta"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kTenantResumed, control::TenantChanged{"beta"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kTenantDeleted, control::TenantChanged{"gone"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kPolicyUpdated, control::PolicyUpdated{"acme", "p-1", 2, true, "x"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kPolicyDeleted, control::PolicyDeleted{"acme", "p-1"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kDevicePolicy, control::DevicePolicy{"acme", "d-1", std::nullopt}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kResync, control::Resync{std::string("acme"), "group g-1"}), control::SubscriberVerdict::kContinue},
      {Ev(EventType::kResync, control::Resync{std::nullopt, "restore"}), control::SubscriberVerdict::kResync},
      {Ev(EventType::kUnknown, control::UnknownEvent{"future.thing"}), control::SubscriberVerdict::kContinue},
  };
  for (const auto& tc : cases) {
    EXPECT_EQ(c.ApplyEvent(tc.event, kNow), tc.step) << control::EventTypeName(tc.event.type);
  }
  // What the sequence left: d-1 locked then unlocked, d-2 and the connector denied, beta resumed, "gone" suspended;
  // no policy event touched the list.
  EXPECT_FALSE(list().IsDenied(Dev("d-1"), kNow));
  EXPECT_EQ(list().Check(Dev("d-2"), kNow), DenyVerdict::kSubjectDenied);
  EXPECT_EQ(list().Check({Role::kConnector, "acme", "c-1"}, kNow), DenyVerdict::kSubjectDenied);
  EXPECT_FALSE(list().IsDenied({Role::kDevice, "acme", "c-1"}, kNow));  // the role is part of the key
  EXPECT_FALSE(list().IsDenied(Dev("d-9", "beta"), kNow));
  EXPECT_EQ(list().Check(Dev("d-9", "gone"), kNow), DenyVerdict::kTenantSuspended);
  EXPECT_EQ(list().denials(), 2u);
  EXPECT_EQ(list().suspended_tenants(), 1u);
  EXPECT_EQ(c.links_closed(), 0u);  // nothing was logged in
}

TEST_F(ControlApplyTest, ADenialEndsAtItsUntil) {
  RelayControl c(*relay, "relay-1");
  (void)c.ApplyEvent(Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-1", kNow + 10, "lost"}), kNow);
  EXPECT_TRUE(list().IsDenied(Dev("d-1"), kNow + 10));
  EXPECT_FALSE(list().IsDenied(Dev("d-1"), kNow + 11));
  EXPECT_EQ(list().Find(Dev("d-1"), kNow)->reason, "lost");
  // One already over is not kept (its credentials have expired anyway).
  (void)c.ApplyEvent(Ev(EventType::kDeviceLocked, control::DeviceDenied{"acme", "d-2", kNow - 1, ""}), kNow);
  EXPECT_FALSE(list().IsDenied(Dev("d-2"), kNow));
}

TEST_F(ControlApplyTest, HeartbeatsExpireOverDenialsAtMostOnceAMinute) {
  RelayControl c(*relay, "relay-1");
  (void)c.ApplyEvent(Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-1", kNow + 10, ""}), kNow);
  (void)c.ApplyEvent(Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-2", kNow + 500, ""}), kNow);
  ASSERT_EQ(list().denials(), 2u);
  const Event hb = Ev(EventType::kHeartbeat, control::Heartbeat{});
  EXPECT_EQ(c.ApplyEvent(hb, kNow + 20), control::SubscriberVerdict::kContinue);  // first heartbeat: expires
  EXPECT_EQ(list().denials(), 1u);
  EXPECT_EQ(c.expired(), 1u);
  (void)c.ApplyEvent(Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-3", kNow + 30, ""}), kNow);
  (void)c.ApplyEvent(hb, kNow + 40);  // within the minute: not yet
  EXPECT_EQ(list().denials(), 2u);
  (void)c.ApplyEvent(hb, kNow + 20 + RelayControl::kExpireEverySeconds);
  EXPECT_EQ(list().denials(), 1u);
  EXPECT_EQ(c.expired(), 2u);
}

TEST_F(ControlApplyTest, ASnapshotReplacesTheListWhole) {
  RelayControl c(*relay, "relay-1");
  (void)c.ApplyEvent(Ev(EventType::kDeviceRevoked, control::DeviceDenied{"acme", "d-old", kNow + 60, ""}), kNow);
  (void)c.ApplyEvent(Ev(EventType::kTenantSuspended, control::TenantChanged{"old"}), kNow);
  control::RelaySnapshot s;
  s.as_of = 99;
  s.denied = {{Role::kConnector, "acme", "c-1", "leaked", kNow + 60}, {Role::kDevice, "beta", "d-1", "", kNow - 1}};
  s.suspended_tenants = {"acme-2"};
  s.revoked_relays = {"relay-0", "relay-2"};
  EXPECT_EQ(c.ApplySnapshot(s, kNow), control::SubscriberVerdict::kContinue);
  EXPECT_FALSE(list().IsDenied(Dev("d-old"), kNow));
  EXPECT_FALSE(list().IsDenied(Dev("x", "old"), kNow));
  EXPECT_TRUE(list().IsDenied({Role::kConnector, "acme", "c-1"}, kNow));
  EXPECT_FALSE(list().IsDenied(Dev("d-1", "beta"), kNow));  // over at `now`: dropped
  EXPECT_EQ(list().Check(Dev("x", "acme-2"), kNow), DenyVerdict::kTenantSuspended);
  EXPECT_EQ(list().denials(), 1u);
  s.revoked_relays.push_back("relay-1");
  EXPECT_EQ(c.ApplySnapshot(s, kNow), control::SubscriberVerdict::kStop);
}

TEST(SubscriberVerdict, Names) {
  EXPECT_EQ(control::SubscriberVerdictName(control::SubscriberVerdict::kContinue), "continue");
  EXPECT_EQ(control::SubscriberVerdictName(control::SubscriberVerdict::kResync), "resync");
  EXPECT_EQ(control::SubscriberVerdictName(control::SubscriberVerdict::kStop), "stop");
}

}  // namespace
}  // namespace strait::relay::testing
