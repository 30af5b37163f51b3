// Sans-I/O login checks (tunnel/link/login.h): HELLO built by a client verifies on the server side for the same
// exporter, and every refusal carries the protocol.md §10 code and a reason.
#include "tunnel/link/login.h"

#include <gtest/gtest.h>

#include "tests/link/link_test_util.h"
#include "tunnel/link_messages.h"

namespace strait::link {
namespace {

using testing::Identities;
using tunnel::ErrorCode;

crypto::HelloExporter Exporter(std::uint8_t fill) {
  crypto::HelloExporter e;
  e.fill(fill);
  return e;
}

TEST(Login, DeviceHelloVerifiesOnDevicePort) {
  Identities ids;
  const auto hello = BuildHello(ids.Device(), Exporter(7));
  ASSERT_TRUE(hello.ok());
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(7), *hello);
  ASSERT_TRUE(peer.ok()) << peer.error().reason;
  EXPECT_EQ(peer->version, 1);
  EXPECT_EQ(peer->credential.role, crypto::Role::kDevice);
  EXPECT_EQ(peer->credential.tenant_id, "acme");
  EXPECT_EQ(peer->credential.subject_id, "phone");
  EXPECT_EQ(peer->preferred_connector, "dc1");
}

TEST(Login, ProofFromAnotherSessionIsBadProof) {
  Identities ids;
  const auto hello = BuildHello(ids.Device(), Exporter(1));
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(2), *hello);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kBadProof);
  EXPECT_FALSE(peer.error().reason.empty());
}

TEST(Login, ConnectorOnDevicePortIsWrongRole) {
  Identities ids;
  const auto hello = BuildHello(ids.Connector(), Exporter(3));
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(3), *hello);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kWrongRole);
  EXPECT_EQ(peer.error().reason.rfind("wrong_role", 0), 0u) << peer.error().reason;
}

TEST(Login, HelloRoleDifferentFromCredentialIsWrongRole) {
  Identities ids;
  ClientLoginConfig lying = ids.Device();
  lying.role = tunnel::LinkRole::kConnector;  // a device credential claiming the connector role
  const auto hello = BuildHello(lying, Exporter(3));
  auto peer = VerifyHello(ids.Port(crypto::RoleSet::Any()), Exporter(3), *hello);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kWrongRole);
}

TEST(Login, CredentialFromAnotherRootIsBadCredentialWithTheCheckAsReason) {
  Identities ids;
  Identities other;
  const auto hello = BuildHello(other.Device(), Exporter(4));
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(4), *hello);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kBadCredential);
  EXPECT_EQ(peer.error().reason.rfind("tenant_cert_bad_signature", 0), 0u) << peer.error().reason;
}

TEST(Login, ExpiredCredentialIsBadCredential) {
  Identities ids;
  ClientLoginConfig login = ids.Device();
  login.credential = ids.Issue(crypto::Role::kDevice, "phone", ids.device_key, /*not_after_offset=*/-30);
  const auto hello = BuildHello(login, Exporter(5));
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(5), *hello);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kBadCredential);
  EXPECT_EQ(peer.error().reason.rfind("expired", 0), 0u) << peer.error().reason;
}

TEST(Login, VersionRangeWithoutOneIsUnsupportedVersion) {
  Identities ids;
  const auto hello = BuildHello(ids.Device(), Exporter(6));
  std::vector<std::uint8_t> bytes = *hello;
  bytes[0] = 2;  // version_min
  bytes[1] = 3;  // version_max
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(6), bytes);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kUnsupportedVersion);
}

TEST(Login, TruncatedHelloIsProtocolError) {
  Identities ids;
  const auto hello = BuildHello(ids.Device(), Exporter(6));
  auto peer = VerifyHello(ids.Port({crypto::Role::kDevice}), Exporter(6),
                          std::span<const std::uint8_t>(*hello).first(hello->size() - 1));
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, ErrorCode::kProtocolError);
}

TEST(Login, HelloAckRoundTrip) {
  Identities ids;
  const auto ack = BuildHelloAck(ids.Port({crypto::Role::kDevice}), 1, 1500, 6000, Exporter(1));
  auto relay = CheckHelloAck(ids.Device(), Exporter(1), ack);  // no server_root: the credential is not checked
  ASSERT_TRUE(relay.ok());
  EXPECT_EQ(relay->version, 1);
  EXPECT_EQ(relay->keepalive_ms, 1500u);
  EXPECT_EQ(relay->idle_timeout_ms, 6000u);
  EXPECT_EQ(relay->max_payload, tunnel::kMaxPayload);
  EXPECT_EQ(relay->relay_id, "relay-test");
  EXPECT_FALSE(relay->server.has_value());
}

TEST(Login, HelloAckWithUnofferedVersionIsRefused) {
  Identities ids;
  auto ack = BuildHelloAck(ids.Port({crypto::Role::kDevice}), 1, 1500, 6000, Exporter(1));
  ack[0] = 9;
  auto relay = CheckHelloAck(ids.Device(), Exporter(1), ack);
  ASSERT_FALSE(relay.ok());
  EXPECT_EQ(relay.error().code, ErrorCode::kUnsupportedVersion);
}

// protocol.md §3: the relay shows its credential and a proof over this session's exporter; a client that checks
// (server_root set) refuses every way of getting it wrong.
ClientLoginConfig Checking(const Identities& ids, crypto::RoleSet roles = {crypto::Role::kRelay}) {
  ClientLoginConfig c = ids.Device();
  c.server_root = ids.root.public_key;
  c.server_roles = roles;
  return c;
}

TEST(Login, TheRelaysCredentialAndProofAreChecked) {
  Identities ids;
  const ServerLoginConfig port = ids.Port({crypto::Role::kDevice});
  auto ok = CheckHelloAck(Checking(ids), Exporter(3), BuildHelloAck(port, 1, 1500, 6000, Exporter(3)));
  ASSERT_TRUE(ok.ok()) << ok.error().reason;
  ASSERT_TRUE(ok->server.has_value());
  EXPECT_EQ(ok->server->role, crypto::Role::kRelay);
  EXPECT_EQ(ok->server->subject_id, "relay-test");
}

TEST(Login, AServerThatShowsNothingOrTheWrongThingIsRefused) {
  Identities ids;
  Identities stranger;  // another operator root
  const ServerLoginConfig port = ids.Port({crypto::Role::kDevice});
  struct Case {
    const char* name;
    ServerLoginConfig server;
    ClientLoginConfig client;
    crypto::HelloExporter server_exporter;
    ErrorCode want;
  };
  std::vector<Case> cases;
  {
    ServerLoginConfig none = port;
    none.credential.clear();
    cases.push_back({"no credential", none, Checking(ids), Exporter(3), ErrorCode::kBadCredential});
  }
  cases.push_back({"another root's relay", stranger.Port({crypto::Role::kDevice}), Checking(ids), Exporter(3),
                   ErrorCode::kBadCredential});
  {
    ServerLoginConfig wrong_key = port;
    wrong_key.key = crypto::Ed25519KeyPair::Generate();
    cases.push_back({"proof by another key", wrong_key, Checking(ids), Exporter(3), ErrorCode::kBadProof});
  }
  // A HELLO_ACK recorded on another session (another exporter) does not prove this one.
  cases.push_back({"proof from another session", port, Checking(ids), Exporter(4), ErrorCode::kBadProof});
  {
    ServerLoginConfig connector = port;  // a connector's credential where a relay is expected
    connector.credential = ids.connector_cred;
    connector.key = ids.connector_key;
    cases.push_back({"a connector posing as a relay", connector, Checking(ids), Exporter(3), ErrorCode::kWrongRole});
    ClientLoginConfig direct = Checking(ids, {crypto::Role::kConnector});  // Direct Connect: our tenant only
    direct.server_tenant = "other";
    cases.push_back({"a connector of another tenant", connector, direct, Exporter(3), ErrorCode::kUnauthorized});
  }
  for (const Case& c : cases) {
    auto r = CheckHelloAck(c.client, Exporter(3), BuildHelloAck(c.server, 1, 1500, 6000, c.server_exporter));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.want) << c.name << ": " << r.error().reason;
    EXPECT_LE(r.error().reason.size(), tunnel::kMaxErrorReasonBytes) << c.name;
  }
  // Direct Connect with a connector of our own tenant passes.
  ServerLoginConfig connector = port;
  connector.credential = ids.connector_cred;
  connector.key = ids.connector_key;
  ClientLoginConfig direct = Checking(ids, {crypto::Role::kConnector});
  direct.server_tenant = "acme";
  EXPECT_TRUE(CheckHelloAck(direct, Exporter(3), BuildHelloAck(connector, 1, 1500, 6000, Exporter(3))).ok());
}

}  // namespace
}  // namespace strait::link
