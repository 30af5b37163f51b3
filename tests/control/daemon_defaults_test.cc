// The daemons' defaults from an enrolled identity directory (tunnel/control/daemon_defaults.h, docs/control-plane.md
// §6.4): control.json gives the device its first relay, that relay's name and the pinned connectors, and the
// connector every relay; a directory without control.json gives nothing; another kind's control.json is refused.
#include "tunnel/control/daemon_defaults.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "tests/testing/temp_dir.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

Bundle ControlOnly(crypto::Role kind, std::vector<RelayEndpoint> relays) {
  Bundle b;
  b.kind = kind;
  b.tenant = kind == crypto::Role::kRelay ? "" : "acme";
  b.subject = "s-1";
  b.url = "https://cp.example.com:8443";
  b.renew_after = 1'750'000'000;
  b.not_after = 1'750'086'400;
  b.relays = std::move(relays);
  return b;
}

void WriteControl(const std::string& dir, const Bundle& b) {
  ASSERT_TRUE(crypto::WritePublicFile(dir + "/control.json", EncodeControlFile(b), crypto::Overwrite::kReplace).ok());
}

const std::vector<RelayEndpoint> kRelays = {{"relay-1", "relay1.example.com:443", "relay1.example.com:3101"},
                                            {"relay-2", "[2001:db8::1]:443", "203.0.113.7:3101"}};

TEST(DaemonDefaultsTest, NoControlFileNoDefaults) {
  strait::testing::TempDir tmp{"strait-defaults"};
  auto d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_TRUE(d.ok()) << d.error().reason;
  EXPECT_FALSE(d->has_value());
  auto c = ConnectorDefaultsFromControl(tmp.path());
  ASSERT_TRUE(c.ok()) << c.error().reason;
  EXPECT_FALSE(c->has_value());
}

TEST(DaemonDefaultsTest, DeviceTakesTheFirstRelayItsNameAndThePinnedConnectors) {
  strait::testing::TempDir tmp{"strait-defaults"};
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kDevice, kRelays));
  ASSERT_TRUE(crypto::EnsureDirectory(tmp.File("connectors")).ok());
  for (const char* id : {"dc-west", "dc-east"}) {
    ASSERT_TRUE(crypto::SaveX25519PublicKey(tmp.File("connectors") + "/" + id + ".pub",
                                            crypto::X25519KeyPair::Generate().public_key, crypto::Overwrite::kRefuse)
                    .ok());
  }
  ASSERT_TRUE(crypto::WritePublicFile(tmp.File("connectors") + "/README", "not a key", crypto::Overwrite::kRefuse).ok());

  auto d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_TRUE(d.ok()) << d.error().reason;
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ((*d)->relay, "relay1.example.com:443");
  EXPECT_EQ((*d)->relay_name, "relay1.example.com");
  EXPECT_EQ((*d)->pinned_connectors,
            (std::vector<std::string>{tmp.File("connectors") + "/dc-east.pub", tmp.File("connectors") + "/dc-west.pub"}));
}

TEST(DaemonDefaultsTest, DeviceRelayNameOfAnIpv6EndpointHasNoBrackets) {
  strait::testing::TempDir tmp{"strait-defaults"};
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kDevice, {kRelays[1]}));
  auto d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->relay, "[2001:db8::1]:443");
  EXPECT_EQ((*d)->relay_name, "2001:db8::1");
  EXPECT_TRUE((*d)->pinned_connectors.empty());  // no connectors/ directory: no pins
}

TEST(DaemonDefaultsTest, DeviceWithoutRelaysHasNoRelayDefault) {
  strait::testing::TempDir tmp{"strait-defaults"};
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kDevice, {}));
  auto d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->relay, "");
  EXPECT_EQ((*d)->relay_name, "");
}

TEST(DaemonDefaultsTest, ConnectorTakesEveryRelay) {
  strait::testing::TempDir tmp{"strait-defaults"};
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kConnector, kRelays));
  auto c = ConnectorDefaultsFromControl(tmp.path());
  ASSERT_TRUE(c.ok()) << c.error().reason;
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->relays, (std::vector<std::string>{"relay1.example.com:3101", "203.0.113.7:3101"}));
}

TEST(DaemonDefaultsTest, AnotherKindsOrADamagedControlFileIsRefused) {
  strait::testing::TempDir tmp{"strait-defaults"};
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kConnector, kRelays));
  auto d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, BundleError::kIdentityMismatch);
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kDevice, kRelays));
  auto c = ConnectorDefaultsFromControl(tmp.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, BundleError::kIdentityMismatch);

  ASSERT_TRUE(crypto::WritePublicFile(tmp.File("control.json"), "{", crypto::Overwrite::kReplace).ok());
  d = DeviceDefaultsFromControl(tmp.path());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, BundleError::kDecode);
}

TEST(DaemonDefaultsTest, SubscriptionOfARelayAndAConnector) {
  constexpr std::string_view kLeaf = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n";
  constexpr std::string_view kCa = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  strait::testing::TempDir tmp{"strait-defaults"};
  crypto::IdentityBundle relay;
  relay.role = crypto::Role::kRelay;
  relay.tls_cert_pem = std::string(kLeaf) + std::string(kCa);
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kRelay, kRelays));
  auto r = SubscriptionFromControl(tmp.path(), relay);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->url, "https://cp.example.com:8443");
  EXPECT_EQ((*r)->snapshot_target, "/v1/relays/s-1/snapshot");
  EXPECT_EQ((*r)->events_target, "/v1/relays/s-1/events");
  EXPECT_EQ((*r)->ca_pem, kCa);  // the certificates after tls.crt's leaf
  // A relay whose tls.crt holds only its leaf has no CA for the control plane.
  relay.tls_cert_pem = std::string(kLeaf);
  EXPECT_EQ(SubscriptionFromControl(tmp.path(), relay).error().code, BundleError::kFiles);
  // The bundle's role must be control.json's.
  crypto::IdentityBundle connector;
  connector.role = crypto::Role::kConnector;
  connector.ca_pem = std::string(kCa);
  EXPECT_EQ(SubscriptionFromControl(tmp.path(), connector).error().code, BundleError::kIdentityMismatch);

  WriteControl(tmp.path(), ControlOnly(crypto::Role::kConnector, kRelays));
  auto c = SubscriptionFromControl(tmp.path(), connector);
  ASSERT_TRUE(c.ok()) << c.error().reason;
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->snapshot_target, "/v1/tenants/acme/connectors/s-1/snapshot");
  EXPECT_EQ((*c)->events_target, "/v1/tenants/acme/connectors/s-1/events");
  EXPECT_EQ((*c)->ca_pem, kCa);
  EXPECT_EQ((*c)->role, crypto::Role::kConnector);
  // A device's control.json has no subscription.
  crypto::IdentityBundle device;
  WriteControl(tmp.path(), ControlOnly(crypto::Role::kDevice, kRelays));
  EXPECT_EQ(SubscriptionFromControl(tmp.path(), device).error().code, BundleError::kIdentityMismatch);
  // No control.json: nothing.
  strait::testing::TempDir empty{"strait-defaults"};
  auto none = SubscriptionFromControl(empty.path(), connector);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace strait::control
