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

}  // namespace
}  // namespace strait::control
