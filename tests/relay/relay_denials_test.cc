// The relay applying the control plane's denials (docs/control-plane.md §7.3, relay column) with real links: a
// revoked device's link gets ERROR revoked and closes, its sessions end at the connector, its next login is refused
// and counted, an unlock lets it back; a snapshot's denial refuses a login; a tenant suspension closes that tenant's
// links and no other's; a revoked connector's devices get connector_gone and then another connector. Real TLS and
// credentials over loopback, as relay_credentials_test.cc; RelayControl is driven from the test thread as the
// subscriber thread would.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "relay/control_apply.h"
#include "relay/metrics.h"
#include "tests/relay/relay_test_fixture.h"

namespace strait::relay::testing {
namespace {

using tunnel::ErrorCode;
constexpr auto kCloseBound = std::chrono::seconds(3);  // §7.4 aims at < 1 s end to end; here it is milliseconds

control::Event Ev(control::EventType type, control::EventBody body) {
  static std::uint64_t next_id = 1;
  return control::Event{next_id++, type, NowUnix(), std::move(body)};
}

class RelayDenialsTest : public RelayTest {
 protected:
  // The relay's credential clock (the fixture's: the system clock here).
  std::uint64_t Now() const { return NowUnix(); }
  // Waits for `p`'s link to go down with ERROR revoked from the relay (sent, received: kPeerError).
  ::testing::AssertionResult ClosedRevoked(Peer& p) {
    if (!pl.Wait([&] { return p.down; }, kCloseBound)) return ::testing::AssertionFailure() << "still up";
    const link::LinkDown d = pl.Exec([&] { return p.down_info; });
    if (d.reason != link::DownReason::kPeerError || d.code != static_cast<std::uint16_t>(ErrorCode::kRevoked)) {
      return ::testing::AssertionFailure() << "down " << link::DownReasonName(d.reason) << " code " << d.code << " "
                                           << d.message;
    }
    return ::testing::AssertionSuccess();
  }
  // A fresh login of `id` that the relay refuses with ERROR revoked (no HELLO_ACK: the link never comes up).
  ::testing::AssertionResult LoginRefusedRevoked(const PeerId& id) {
    Peer& p = AddPeer(id);
    if (Login(p)) return ::testing::AssertionFailure() << "logged in";
    const link::LinkDown d = pl.Exec([&] { return p.down_info; });
    if (d.was_up || d.code != static_cast<std::uint16_t>(ErrorCode::kRevoked)) {
      return ::testing::AssertionFailure() << "down " << link::DownReasonName(d.reason) << " code " << d.code << " "
                                           << d.message;
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(RelayDenialsTest, ARevokedDeviceIsClosedRefusedAndLetBackByAnUnlock) {
  Start(DefaultOptions(2));  // the connector and the device on different shards
  RelayControl control(*relay, "relay-test");
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);

  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kDeviceRevoked,
                                  control::DeviceDenied{"acme", "dev-1", Now() + 3600, "lost"}),
                               Now()),
            control::SubscriberVerdict::kContinue);
  EXPECT_EQ(control.links_closed(), 1u);
  ASSERT_TRUE(ClosedRevoked(dev));
  EXPECT_NE(pl.Exec([&] { return dev.down_info.message; }).find("revoked"), std::string::npos);
  // Its session ends at the connector with device_gone; the connector's own link stays up.
  ASSERT_TRUE(pl.Wait([&] { return con.sessions.at(ch)->closed.has_value(); }, kCloseBound));
  EXPECT_EQ(pl.Exec([&] { return *con.sessions.at(ch)->closed; }), ErrorCode::kDeviceGone);
  EXPECT_TRUE(pl.Exec([&] { return con.up && !con.down; }));

  // Logging in again with the same credential is refused before HELLO_ACK, and counted.
  EXPECT_TRUE(LoginRefusedRevoked(dev.id()));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.links_revoked == 1 && s.LoginsRefused(LoginDenial::kRevoked) == 1 &&
           s.Handshakes(HandshakeResult::kRevoked) == 1 && s.device_links == 0 && s.denials == 1;
  }));
  const std::string text = RenderPrometheus(relay->Snapshot());
  EXPECT_NE(text.find("strait_relay_logins_refused_total{reason=\"revoked\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strait_relay_links_revoked_total 1\n"), std::string::npos) << text;
  // Another device of the tenant is not touched.
  Peer& other = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-2"));
  ASSERT_TRUE(Login(other));
  EXPECT_NE(OpenSession(other), 0u);

  // device.unlocked lifts the denial: the same credential logs in and gets a session.
  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kDeviceUnlocked, control::DeviceUnlocked{"acme", "dev-1"}),
                               Now()),
            control::SubscriberVerdict::kContinue);
  Peer& back = AddPeer(dev.id());
  ASSERT_TRUE(Login(back));
  EXPECT_NE(OpenSession(back), 0u);
}

TEST_F(RelayDenialsTest, ASnapshotsDenialRefusesTheLoginAndClosesLiveLinks) {
  Start(DefaultOptions(2));
  RelayControl control(*relay, "relay-test");
  const PeerId dev1 = Pki::Issue(acme, crypto::Role::kDevice, "dev-1");
  Peer& live = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-live"));
  ASSERT_TRUE(Login(live));

  control::RelaySnapshot snap;
  snap.as_of = 42;
  snap.denied.push_back({crypto::Role::kDevice, "acme", "dev-1", "locked", Now() + 3600});
  snap.denied.push_back({crypto::Role::kDevice, "acme", "dev-live", "revoked", Now() + 3600});
  snap.denied.push_back({crypto::Role::kDevice, "acme", "dev-over", "revoked", Now() - 10});  // over: dropped
  snap.revoked_relays = {"relay-other"};
  EXPECT_EQ(control.ApplySnapshot(snap, Now()), control::SubscriberVerdict::kContinue);
  EXPECT_EQ(relay->deny_list().denials(), 2u);
  EXPECT_TRUE(LoginRefusedRevoked(dev1));
  EXPECT_TRUE(ClosedRevoked(live));  // denied while up: the snapshot closes it too

  // The next snapshot no longer holds the denial: the device gets in.
  snap.denied.clear();
  snap.revoked_relays.push_back("relay-test");
  EXPECT_EQ(control.ApplySnapshot(snap, Now()), control::SubscriberVerdict::kStop);
  Peer& back = AddPeer(dev1);
  EXPECT_TRUE(Login(back));
}

TEST_F(RelayDenialsTest, ATenantSuspensionClosesThatTenantsLinksOnly) {
  Start(DefaultOptions(2));
  RelayControl control(*relay, "relay-test");
  auto [con, dev, ch] = LoggedInPair();  // acme
  ASSERT_NE(ch, 0u);
  Peer& beta_con = AddPeer(Pki::Issue(beta, crypto::Role::kConnector, "conn-b"));
  Peer& beta_dev = AddPeer(Pki::Issue(beta, crypto::Role::kDevice, "dev-b"));
  ASSERT_TRUE(Login(beta_con));
  ASSERT_TRUE(Login(beta_dev));
  const std::uint32_t beta_ch = OpenSession(beta_dev);
  ASSERT_NE(beta_ch, 0u);

  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kTenantSuspended, control::TenantChanged{"acme"}), Now()),
            control::SubscriberVerdict::kContinue);
  EXPECT_EQ(control.links_closed(), 2u);
  EXPECT_TRUE(ClosedRevoked(con));
  EXPECT_TRUE(ClosedRevoked(dev));
  // beta's links and session carry on.
  Exchange(pl, beta_dev, beta_con, beta_ch, RandomBytes(1000, 1), RandomBytes(2000, 2));
  EXPECT_TRUE(pl.Exec([&] { return beta_dev.up && !beta_dev.down && beta_con.up && !beta_con.down; }));
  // acme's logins are refused while it is suspended, counted as tenant_suspended...
  EXPECT_TRUE(LoginRefusedRevoked(Pki::Issue(acme, crypto::Role::kDevice, "dev-new")));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.LoginsRefused(LoginDenial::kTenantSuspended) == 1 && s.links_revoked == 2 && s.suspended_tenants == 1 &&
           s.device_links == 1 && s.connector_links == 1;
  }));
  // ...and allowed again once it is resumed.
  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kTenantResumed, control::TenantChanged{"acme"}), Now()),
            control::SubscriberVerdict::kContinue);
  Peer& again = AddPeer(con.id());
  EXPECT_TRUE(Login(again));
}

TEST_F(RelayDenialsTest, ARevokedConnectorIsClosedAndItsDevicesGetAnother) {
  Start(DefaultOptions(2));
  RelayControl control(*relay, "relay-test");
  Peer& c1 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& c2 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-2"));
  ASSERT_TRUE(Login(c1));
  ASSERT_TRUE(Login(c2));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(dev));
  const std::uint32_t ch = OpenSession(dev, "conn-1");
  ASSERT_NE(ch, 0u);
  ASSERT_EQ(ConnectorOf(dev, ch), "conn-1");

  EXPECT_EQ(control.ApplyEvent(Ev(control::EventType::kConnectorRevoked,
                                  control::ConnectorRevoked{"acme", "conn-1", Now() + 3600, "key leaked"}),
                               Now()),
            control::SubscriberVerdict::kContinue);
  EXPECT_TRUE(ClosedRevoked(c1));
  ASSERT_TRUE(pl.Wait([&] { return dev.sessions.at(ch)->closed.has_value(); }, kCloseBound));
  EXPECT_EQ(pl.Exec([&] { return *dev.sessions.at(ch)->closed; }), ErrorCode::kConnectorGone);
  // The device stays up and its next session (still asking for conn-1) goes to conn-2.
  const std::uint32_t next = OpenSession(dev, "conn-1");
  ASSERT_NE(next, 0u);
  EXPECT_EQ(ConnectorOf(dev, next), "conn-2");
  // The revoked connector cannot log in again; a device of the same name is another subject and can.
  EXPECT_TRUE(LoginRefusedRevoked(c1.id()));
  Peer& namesake = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "conn-1"));
  EXPECT_TRUE(Login(namesake));
}

}  // namespace
}  // namespace strait::relay::testing
