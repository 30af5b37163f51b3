#include "crypto/proof.h"

#include <gtest/gtest.h>

#include "crypto/credential.h"
#include "crypto/tls_session.h"
#include "tests/crypto/tls_test_util.h"

namespace strait::crypto {
namespace {

constexpr uint64_t kNow = 1'700'000'000;

// A device credential under a fresh root, verified, plus the device's key.
struct Device {
  Ed25519KeyPair root = Ed25519KeyPair::Generate();
  Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  Ed25519KeyPair key = Ed25519KeyPair::Generate();
  VerifiedCredential credential;

  Device() {
    const auto tc = IssueTenantCert(root, {"acme", tenant.public_key, kNow - 100, kNow + 100}).value();
    const auto cred = IssueCredential(tenant, tc,
                                      {Role::kDevice, "phone", key.public_key, X25519KeyPair::Generate().public_key,
                                       1, kNow - 10, kNow + 10})
                          .value();
    credential = VerifyCredential(cred, root.public_key, kNow, {{Role::kDevice}, "acme"}).value();
  }
};

struct Established : testing::TlsPair {
  Established() { EXPECT_TRUE(testing::Handshake(client, server).ok()); }
};

TEST(HelloProof, ValidProofVerifiesOnTheSameSession) {
  Device d;
  Established link;
  auto proof = SignHelloProof(d.key, Role::kDevice, link.client);  // the device is the TLS client
  ASSERT_TRUE(proof.ok()) << proof.error().reason;
  auto ok = VerifyHelloProof(d.credential, link.server, *proof);  // the relay is the TLS server
  EXPECT_TRUE(ok.ok()) << ok.error().reason;
}

TEST(HelloProof, ReplayOnAnotherSessionFails) {
  Device d;
  Established recorded, replayed;
  const Ed25519Signature proof = SignHelloProof(d.key, Role::kDevice, recorded.client).value();
  auto r = VerifyHelloProof(d.credential, replayed.server, proof);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ProofError::kBadProof);
}

TEST(HelloProof, WrongRoleByteFails) {
  Device d;
  Established link;
  const HelloExporter e = HelloExporterValue(link.client).value();
  for (Role claimed : {Role::kConnector, Role::kRelay}) {
    const Ed25519Signature proof = SignHelloProof(d.key, claimed, e);
    auto r = VerifyHelloProof(d.credential, e, proof);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ProofError::kBadProof);
  }
}

TEST(HelloProof, KeyOtherThanTheCredentialsFails) {
  Device d;
  Established link;
  const Ed25519KeyPair thief = Ed25519KeyPair::Generate();  // holds a copy of the credential, not its key
  const Ed25519Signature proof = SignHelloProof(thief, Role::kDevice, link.client).value();
  EXPECT_FALSE(VerifyHelloProof(d.credential, link.server, proof).ok());
}

TEST(HelloProof, ExporterEqualsLabelledTlsExporter) {
  Established link;
  const HelloExporter e = HelloExporterValue(link.server).value();
  HelloExporter direct{};
  ASSERT_TRUE(link.client.ExportKeyingMaterial("EXPORTER-strait-hello-1", {}, direct).ok());
  EXPECT_EQ(e, direct);
}

TEST(HelloProof, NeedsCompletedHandshake) {
  Device d;
  testing::TlsPair link;  // no handshake
  auto proof = SignHelloProof(d.key, Role::kDevice, link.client);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.error().code, ProofError::kExporterUnavailable);
  auto v = VerifyHelloProof(d.credential, link.server, Ed25519Signature());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ProofError::kExporterUnavailable);
}

}  // namespace
}  // namespace strait::crypto
