#include "bench/suite/load/login_floor.h"

#include <chrono>

#include <gtest/gtest.h>

#include "crypto/credential.h"

namespace strait::bench {
namespace {

LoginFloorInputs Throwaway() {
  auto in = MakeThrowawayLoginFloorInputs();
  EXPECT_TRUE(in) << in.error();
  return std::move(in).value();
}

std::uint64_t NowUnix() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// A device credential in tenant "floor" whose TenantCert is signed by `root`.
std::vector<std::uint8_t> DeviceCredentialUnder(const crypto::Ed25519KeyPair& root,
                                                const crypto::Ed25519PublicKey& device_key) {
  const std::uint64_t now = NowUnix();
  const crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  auto tc = crypto::IssueTenantCert(root, {"floor", tenant.public_key, now - 60, now + 3600});
  EXPECT_TRUE(tc);
  auto cred = crypto::IssueCredential(tenant, *tc,
                                      {crypto::Role::kDevice, "device-2", device_key,
                                       crypto::X25519KeyPair::Generate().public_key, 7, now - 60, now + 3600});
  EXPECT_TRUE(cred);
  return std::move(cred).value();
}

TEST(LoginFloor, ThrowawayInputsGiveAPositiveTls13Floor) {
  const LoginFloorInputs in = Throwaway();
  auto floor = MeasureLoginFloor(in, 20);
  ASSERT_TRUE(floor) << floor.error();
  EXPECT_EQ(floor->iterations, 20u);
  EXPECT_GT(floor->us_per_login, 0.0);
  EXPECT_GT(floor->tls_us, 0.0);
  EXPECT_GT(floor->login_checks_us, 0.0);
  EXPECT_TRUE(floor->hello_ack_signed);
  EXPECT_EQ(floor->tls_version, "TLSv1.3");
  EXPECT_FALSE(floor->cipher.empty());
  EXPECT_EQ(floor->cipher.rfind("TLS_", 0), 0u) << floor->cipher;
  EXPECT_FALSE(floor->group.empty());
  // The relay's certificate type: a P-256 ECDSA leaf from x509_issue.
  EXPECT_NE(floor->signature.find("ecdsa"), std::string::npos) << floor->signature;
}

TEST(LoginFloor, WithoutARelayCredentialTheAckIsUnsigned) {
  LoginFloorInputs in = Throwaway();
  in.relay_credential.clear();
  auto floor = MeasureLoginFloor(in, 1);
  ASSERT_TRUE(floor) << floor.error();
  EXPECT_FALSE(floor->hello_ack_signed);
  EXPECT_EQ(floor->iterations, 1u);
}

TEST(LoginFloor, ZeroIterationsAreRefused) {
  const LoginFloorInputs in = Throwaway();
  auto floor = MeasureLoginFloor(in, 0);
  ASSERT_FALSE(floor);
  EXPECT_NE(floor.error().find("iteration"), std::string::npos) << floor.error();
}

TEST(LoginFloor, ACredentialFromAnotherRootFailsTheCheck) {
  LoginFloorInputs in = Throwaway();
  const crypto::Ed25519KeyPair other_root = crypto::Ed25519KeyPair::Generate();
  in.device_credential = DeviceCredentialUnder(other_root, in.device_key.public_key);
  auto floor = MeasureLoginFloor(in, 5);
  ASSERT_FALSE(floor);
  EXPECT_NE(floor.error().find("refused the HELLO"), std::string::npos) << floor.error();
  EXPECT_NE(floor.error().find("bad_credential"), std::string::npos) << floor.error();
  EXPECT_NE(floor.error().find(crypto::CredentialErrorName(crypto::CredentialError::kTenantCertBadSignature)),
            std::string::npos)
      << floor.error();
}

TEST(LoginFloor, AProofByAnotherKeyFailsTheCheck) {
  LoginFloorInputs in = Throwaway();
  in.device_key = crypto::Ed25519KeyPair::Generate();  // not the credential's key
  auto floor = MeasureLoginFloor(in, 5);
  ASSERT_FALSE(floor);
  EXPECT_NE(floor.error().find("bad_proof"), std::string::npos) << floor.error();
}

TEST(LoginFloor, ACredentialWithAnotherRoleFailsTheCheck) {
  LoginFloorInputs in = Throwaway();
  in.device_credential = in.relay_credential;  // role relay on the device port
  in.device_key = in.relay_key;
  auto floor = MeasureLoginFloor(in, 5);
  ASSERT_FALSE(floor);
  EXPECT_NE(floor.error().find("refused the HELLO"), std::string::npos) << floor.error();
}

TEST(LoginFloor, AServerNameOutsideTheCertificateFailsTheHandshake) {
  LoginFloorInputs in = Throwaway();
  in.server_name = "not-the-relay.example";
  auto floor = MeasureLoginFloor(in, 5);
  ASSERT_FALSE(floor);
  EXPECT_NE(floor.error().find("handshake"), std::string::npos) << floor.error();
}

TEST(LoginFloor, InputsFromBundlesLogIn) {
  const LoginFloorInputs t = Throwaway();
  crypto::IdentityBundle relay;
  relay.role = crypto::Role::kRelay;
  relay.credential = t.relay_credential;
  relay.signing_key = t.relay_key;
  relay.root_public_key = t.root_public_key;
  relay.tls_cert_pem = t.server_cert_chain_pem;
  relay.tls_key_pem = crypto::SecretText(std::string(t.server_key_pem.view()));
  crypto::IdentityBundle device;
  device.role = crypto::Role::kDevice;
  device.credential = t.device_credential;
  device.signing_key = t.device_key;
  device.root_public_key = t.root_public_key;
  device.ca_pem = t.ca_pem;

  auto in = LoginFloorInputsFromBundles(relay, device, "127.0.0.1");
  ASSERT_TRUE(in) << in.error();
  auto floor = MeasureLoginFloor(*in, 2);
  ASSERT_TRUE(floor) << floor.error();
  EXPECT_TRUE(floor->hello_ack_signed);

  device.ca_pem.clear();
  EXPECT_FALSE(LoginFloorInputsFromBundles(relay, device, "localhost"));
  device.ca_pem = t.ca_pem;
  relay.tls_key_pem = crypto::SecretText();
  EXPECT_FALSE(LoginFloorInputsFromBundles(relay, device, "localhost"));
}

}  // namespace
}  // namespace strait::bench
