// The libraries strait-control shares with the data plane link no TLS library (docs/control-plane.md §1): this
// executable links strait_crypto_core and strait_policy only (tests/build/CMakeLists.txt). Three checks:
//   1. compile time: none of their headers includes a BoringSSL or OpenSSL header (the #if below);
//   2. link time: it links at all, so neither library calls into BoringSSL (no BoringSSL is on its link line);
//   3. tests/build/one_tls_library_test.sh reads this binary's dynamic section: no libssl, no libcrypto.
// The tests themselves run what the control plane runs: issue and verify a credential, write a secret file,
// parse a policy.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/hex.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/secret_file.h"
#include "tests/testing/temp_dir.h"
#include "tunnel/connector/policy_file.h"

// BoringSSL's and OpenSSL 3's <openssl/base.h> / <openssl/opensslv.h> define these; any TLS header pulls one in.
#if defined(OPENSSL_HEADER_BASE_H) || defined(OPENSSL_VERSION_NUMBER) || defined(OPENSSL_IS_BORINGSSL)
#error "a strait_crypto_core or strait_policy header includes a TLS library header"
#endif

namespace strait {
namespace {

constexpr uint64_t kNow = 1'800'000'000;
constexpr uint64_t kDay = 24 * 3600;

TEST(TlsFreeLibs, IssuesAndVerifiesACredentialWithoutTls) {
  const auto root = crypto::Ed25519KeyPair::Generate();
  const auto tenant = crypto::Ed25519KeyPair::Generate();
  auto tc = crypto::IssueTenantCert(root, {"acme", tenant.public_key, kNow - kDay, kNow + 30 * kDay});
  ASSERT_TRUE(tc.ok()) << tc.error().reason;
  const auto device = crypto::Ed25519KeyPair::Generate();
  const auto noise = crypto::X25519KeyPair::Generate();
  auto cred = crypto::IssueCredential(
      tenant, *tc, {crypto::Role::kDevice, "laptop-1", device.public_key, noise.public_key, 7, kNow, kNow + kDay});
  ASSERT_TRUE(cred.ok()) << cred.error().reason;

  auto v =
      crypto::VerifyCredential(*cred, root.public_key, kNow + 60, {crypto::RoleSet{crypto::Role::kDevice}, "acme"});
  ASSERT_TRUE(v.ok()) << v.error().reason;
  EXPECT_EQ(v->subject_id, "laptop-1");
  EXPECT_EQ(v->serial, 7u);
  EXPECT_TRUE(v->key == device.public_key);

  const auto other_root = crypto::Ed25519KeyPair::Generate();
  auto refused = crypto::VerifyCredential(*cred, other_root.public_key, kNow + 60, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, crypto::CredentialError::kTenantCertBadSignature);
  auto expired = crypto::VerifyCredential(*cred, root.public_key, kNow + 2 * kDay, {});
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, crypto::CredentialError::kExpired);
}

TEST(TlsFreeLibs, WritesSecretFilesOwnerOnlyAndRefusesOpenOnes) {
  strait::testing::TempDir tmp{"strait-tls-free"};
  const std::string path = tmp.File("secretbox.key");
  ASSERT_TRUE(crypto::WriteFileAtomic(path, "k3y", crypto::FileAccess::kSecret, crypto::Overwrite::kRefuse).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(crypto::CheckSecretFileMode(path, st.st_mode).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "k3y");

  auto again = crypto::WriteFileAtomic(path, "other", crypto::FileAccess::kSecret, crypto::Overwrite::kRefuse);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, crypto::FileError::kExists);

  auto open = crypto::CheckSecretFileMode(path, S_IFREG | 0640);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, crypto::FileError::kInsecurePermissions);
  EXPECT_NE(open.error().reason.find("chmod 600 " + path), std::string::npos) << open.error().reason;
}

TEST(TlsFreeLibs, ParsesAPolicyWithTheConnectorsParser) {
  auto p = connector::ParsePolicy(R"(
version = 1
[[allow]]
hosts = ["*.git.corp.example"]
cidrs = ["10.20.0.0/16"]
ports = ["443"]
[[deny]]
cidrs = ["10.20.99.0/24"]
)",
                                  "policy.toml");
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_TRUE(p->Decide("www.git.corp.example", 443).allowed());
  EXPECT_FALSE(p->Decide("www.git.corp.example", 22).allowed());
  EXPECT_TRUE(p->Decide(*connector::IpAddress::Parse("10.20.1.1"), 443).allowed());
  EXPECT_FALSE(p->Decide(*connector::IpAddress::Parse("10.20.99.1"), 443).allowed());

  auto bad = connector::ParsePolicy("[[allow]]\ncidrs = [\"10.20.1.0/16\"]\nports = [\"443\"]\n", "policy.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, connector::PolicyErrorCode::kBadCidr);
}

TEST(TlsFreeLibs, HexRoundTrips) {
  const std::vector<uint8_t> bytes = {0x00, 0xab, 0xff};
  EXPECT_EQ(crypto::HexEncode(bytes), "00abff");
  EXPECT_EQ(crypto::HexDecode("00abff", ""), bytes);
}

}  // namespace
}  // namespace strait
