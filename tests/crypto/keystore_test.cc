// Key and credential files (crypto/keystore.h): atomic writes, modes, upgrades of older key files, identity
// bundles and the daemons' own-credential check. The text codec's tests are in key_pem_test.cc.
#include "crypto/keystore.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/crypto/keystore_test_util.h"
#include "tests/testing/temp_dir.h"

namespace strait::crypto {
namespace {

using testing::Bytes;
using testing::Chain;
using testing::HandArmour;
using testing::TheChain;
using testing::kDay;
using testing::kNow;

// A scratch directory per test (tests/testing/temp_dir.h).
struct TempDir : strait::testing::TempDir {
  TempDir() : strait::testing::TempDir("strait-keystore") {}
};

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void Spit(const std::string& path, std::string_view text, mode_t mode) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string Slurp(const std::string& path) { return ReadPublicFile(path).value(); }

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// --- Files ---

TEST(KeystoreFiles, RoundTripsEveryFileType) {
  TempDir d;
  const Chain& c = TheChain();
  const Ed25519KeyPair ed = Ed25519KeyPair::Generate();
  const X25519KeyPair x = X25519KeyPair::Generate();
  ASSERT_TRUE(SaveEd25519SecretKey(d.File("ed.key"), ed, Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveEd25519PublicKey(d.File("ed.pub"), ed.public_key, Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveX25519SecretKey(d.File("x.key"), x, Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveX25519PublicKey(d.File("x.pub"), x.public_key, Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveTenantCert(d.File("tenant.cert"), c.tenant_cert, Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveCredential(d.File("credential"), c.device, Overwrite::kRefuse).ok());

  EXPECT_EQ(LoadEd25519SecretKey(d.File("ed.key")).value().seed, ed.seed);
  EXPECT_EQ(LoadEd25519PublicKey(d.File("ed.pub")).value(), ed.public_key);
  EXPECT_EQ(LoadX25519SecretKey(d.File("x.key")).value().secret, x.secret);
  EXPECT_EQ(LoadX25519PublicKey(d.File("x.pub")).value(), x.public_key);
  EXPECT_EQ(LoadTenantCert(d.File("tenant.cert")).value(), c.tenant_cert);
  EXPECT_EQ(LoadCredential(d.File("credential")).value(), c.device);
  // No temporary files left behind.
  EXPECT_EQ(ListDir(d.path()),
            (std::vector<std::string>{"credential", "ed.key", "ed.pub", "tenant.cert", "x.key", "x.pub"}));
}

TEST(KeystoreFiles, UpgradeRewritesOlderKeyFilesAsPemWithTheSameKeys) {
  TempDir d;
  const Ed25519KeyPair ed = Ed25519KeyPair::Generate();
  const X25519KeyPair x = X25519KeyPair::Generate();
  auto bytes = [](auto span) { return Bytes(span.begin(), span.end()); };
  Spit(d.File("signing.key"), HandArmour("STRAIT ED25519 SECRET KEY", bytes(ed.seed.bytes())), 0600);
  Spit(d.File("noise.key"), HandArmour("STRAIT X25519 SECRET KEY", bytes(x.secret.bytes())), 0600);
  Spit(d.File("root.pub"), HandArmour("STRAIT ED25519 PUBLIC KEY", bytes(ed.public_key.bytes())), 0644);
  Spit(d.File("noise.pub"), HandArmour("STRAIT X25519 PUBLIC KEY", bytes(x.public_key.bytes())), 0644);
  ASSERT_TRUE(SaveCredential(d.File("credential"), TheChain().device, Overwrite::kRefuse).ok());
  Spit(d.File("ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0644);

  const std::pair<const char*, ArmorType> upgraded[] = {{"signing.key", ArmorType::kEd25519SecretKey},
                                                        {"noise.key", ArmorType::kX25519SecretKey},
                                                        {"root.pub", ArmorType::kEd25519PublicKey},
                                                        {"noise.pub", ArmorType::kX25519PublicKey}};
  for (const auto& [name, type] : upgraded) {
    auto r = UpgradeKeyFile(d.File(name));
    ASSERT_TRUE(r.ok()) << r.error().reason;
    EXPECT_EQ(*r, std::optional<ArmorType>(type)) << name;
  }
  // Exactly what Strait writes for these keys now, modes as before.
  EXPECT_EQ(Slurp(d.File("signing.key")), EncodeEd25519SecretKey(ed).view());
  EXPECT_EQ(Slurp(d.File("noise.key")), EncodeX25519SecretKey(x).view());
  EXPECT_EQ(Slurp(d.File("root.pub")), EncodeEd25519PublicKey(ed.public_key));
  EXPECT_EQ(Slurp(d.File("noise.pub")), EncodeX25519PublicKey(x.public_key));
  EXPECT_EQ(ModeOf(d.File("signing.key")), 0600u);
  EXPECT_EQ(ModeOf(d.File("noise.key")), 0600u);

  // A second run, a credential and a certificate: nothing to do, nothing changed.
  for (const char* name : {"signing.key", "noise.pub", "credential", "ca.pem"}) {
    const std::string before = Slurp(d.File(name));
    auto r = UpgradeKeyFile(d.File(name));
    ASSERT_TRUE(r.ok()) << r.error().reason;
    EXPECT_FALSE(r->has_value()) << name;
    EXPECT_EQ(Slurp(d.File(name)), before) << name;
  }
  EXPECT_EQ(ListDir(d.path()), (std::vector<std::string>{"ca.pem", "credential", "noise.key", "noise.pub", "root.pub",
                                                         "signing.key"}));

  // An older secret that others can read is refused as on load; a damaged older file is an error.
  Spit(d.File("open.key"), HandArmour("STRAIT ED25519 SECRET KEY", bytes(ed.seed.bytes())), 0644);
  auto open = UpgradeKeyFile(d.File("open.key"));
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, KeystoreError::kInsecurePermissions);
  Spit(d.File("cut.key"), HandArmour("STRAIT ED25519 SECRET KEY", bytes(ed.seed.bytes())).substr(0, 50), 0600);
  auto cut = UpgradeKeyFile(d.File("cut.key"));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, KeystoreError::kBadArmour);
}

TEST(KeystoreFiles, SecretFilesAre0600EvenWithPermissiveUmask) {
  TempDir d;
  const mode_t old = ::umask(0);
  ASSERT_TRUE(SaveEd25519SecretKey(d.File("a.key"), Ed25519KeyPair::Generate(), Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveX25519SecretKey(d.File("b.key"), X25519KeyPair::Generate(), Overwrite::kRefuse).ok());
  ASSERT_TRUE(WriteSecretFile(d.File("tls.key"), "-----BEGIN PRIVATE KEY-----\n", Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveEd25519PublicKey(d.File("a.pub"), Ed25519KeyPair::Generate().public_key, Overwrite::kRefuse).ok());
  ::umask(old);
  EXPECT_EQ(ModeOf(d.File("a.key")), 0600u);
  EXPECT_EQ(ModeOf(d.File("b.key")), 0600u);
  EXPECT_EQ(ModeOf(d.File("tls.key")), 0600u);
  EXPECT_EQ(ModeOf(d.File("a.pub")), 0644u);
}

TEST(KeystoreFiles, RefusesGroupOrOtherReadableSecretWithChmodHint) {
  TempDir d;
  const std::string path = d.File("signing.key");
  ASSERT_TRUE(SaveEd25519SecretKey(path, Ed25519KeyPair::Generate(), Overwrite::kRefuse).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = LoadEd25519SecretKey(path);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.error().code, KeystoreError::kInsecurePermissions);
    EXPECT_NE(r.error().reason.find("chmod 600 " + path), std::string::npos) << r.error().reason;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadEd25519SecretKey(path).ok());
}

TEST(KeystoreFiles, RefusesToOverwriteUnlessReplace) {
  TempDir d;
  const std::string path = d.File("root.key");
  const Ed25519KeyPair first = Ed25519KeyPair::Generate();
  const Ed25519KeyPair second = Ed25519KeyPair::Generate();
  ASSERT_TRUE(SaveEd25519SecretKey(path, first, Overwrite::kRefuse).ok());
  auto r = SaveEd25519SecretKey(path, second, Overwrite::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kExists);
  EXPECT_NE(r.error().reason.find(path), std::string::npos) << r.error().reason;
  EXPECT_NE(r.error().reason.find("--force"), std::string::npos) << r.error().reason;
  EXPECT_EQ(LoadEd25519SecretKey(path).value().seed, first.seed);

  ASSERT_TRUE(SaveEd25519SecretKey(path, second, Overwrite::kReplace).ok());
  EXPECT_EQ(LoadEd25519SecretKey(path).value().seed, second.seed);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ListDir(d.path()), std::vector<std::string>{"root.key"});
}

TEST(KeystoreFiles, LoadErrorsNameTheFile) {
  TempDir d;
  const std::string pub = d.File("root.pub");
  ASSERT_TRUE(SaveEd25519PublicKey(pub, Ed25519KeyPair::Generate().public_key, Overwrite::kRefuse).ok());
  // A public key where a secret key belongs (after fixing its mode so the type check is reached).
  ASSERT_EQ(::chmod(pub.c_str(), 0600), 0);
  auto wrong = LoadEd25519SecretKey(pub);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, KeystoreError::kWrongType);
  EXPECT_TRUE(wrong.error().reason.starts_with(pub + ": ")) << wrong.error().reason;

  const std::string corrupt = d.File("credential");
  std::string text = EncodeCredential(TheChain().device);
  Spit(corrupt, text.substr(0, text.size() - 20), 0644);
  auto bad = LoadCredential(corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().reason.starts_with(corrupt + ": ")) << bad.error().reason;

  auto missing = LoadCredential(d.File("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, KeystoreError::kNotFound);
  EXPECT_NE(missing.error().reason.find("nope"), std::string::npos);
}

TEST(KeystoreFiles, WriteIntoMissingDirectoryFailsCleanly) {
  TempDir d;
  auto r = SaveEd25519PublicKey(d.File("no/such/dir/x.pub"), Ed25519KeyPair::Generate().public_key,
                                Overwrite::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kNotFound);
}

TEST(KeystoreFiles, EnsureDirectoryCreatesParentsOwnerOnly) {
  TempDir d;
  const std::string nested = d.File("a/b/c");
  ASSERT_TRUE(EnsureDirectory(nested).ok());
  EXPECT_EQ(ModeOf(nested) & 0777, 0700u);
  EXPECT_TRUE(EnsureDirectory(nested).ok());
  Spit(d.File("file"), "x", 0644);
  EXPECT_FALSE(EnsureDirectory(d.File("file")).ok());
}

// --- Identity bundles ---

IdentityBundle DeviceBundle() {
  const Chain& c = TheChain();
  IdentityBundle b;
  b.role = Role::kDevice;
  b.credential = c.device;
  b.signing_key = c.device_key;
  b.noise_key = c.device_noise;
  b.root_public_key = c.root.public_key;
  b.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  return b;
}

TEST(KeystoreBundle, DeviceBundleRoundTrips) {
  TempDir d;
  const std::string dir = d.File("phone-1");
  ASSERT_TRUE(SaveIdentityBundle(dir, DeviceBundle(), Overwrite::kRefuse).ok());
  EXPECT_EQ(ListDir(dir), (std::vector<std::string>{"ca.pem", "credential", "noise.key", "noise.pub", "root.pub",
                                                    "signing.key"}));
  EXPECT_EQ(ModeOf(dir) & 0777, 0700u);
  EXPECT_EQ(ModeOf(JoinPath(dir, "signing.key")), 0600u);
  EXPECT_EQ(ModeOf(JoinPath(dir, "noise.key")), 0600u);
  auto b = LoadIdentityBundle(dir);
  ASSERT_TRUE(b.ok()) << b.error().reason;
  EXPECT_EQ(b->role, Role::kDevice);
  EXPECT_EQ(b->credential, TheChain().device);
  EXPECT_EQ(b->signing_key.seed, TheChain().device_key.seed);
  ASSERT_TRUE(b->noise_key.has_value());
  EXPECT_EQ(b->noise_key->secret, TheChain().device_noise.secret);
  EXPECT_EQ(b->root_public_key, TheChain().root.public_key);
  EXPECT_EQ(b->ca_pem, DeviceBundle().ca_pem);
  EXPECT_TRUE(b->tls_cert_pem.empty());
  // The credential in the bundle verifies against the bundle's root.
  EXPECT_TRUE(VerifyCredential(b->credential, b->root_public_key, kNow, {}).ok());
}

TEST(KeystoreBundle, KeyFilesArePemAndOlderArmouredBundlesStillLoad) {
  TempDir d;
  const std::string dir = d.File("phone-1");
  ASSERT_TRUE(SaveIdentityBundle(dir, DeviceBundle(), Overwrite::kRefuse).ok());
  EXPECT_TRUE(Slurp(JoinPath(dir, "signing.key")).starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_TRUE(Slurp(JoinPath(dir, "noise.key")).starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_TRUE(Slurp(JoinPath(dir, "root.pub")).starts_with("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_TRUE(Slurp(JoinPath(dir, "noise.pub")).starts_with("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_TRUE(Slurp(JoinPath(dir, "credential")).starts_with("-----BEGIN STRAIT CREDENTIAL-----\n"));

  // The same bundle as Strait wrote it before PEM keys (fixtures written here by hand) loads the same keys.
  const Chain& c = TheChain();
  auto bytes = [](auto span) { return Bytes(span.begin(), span.end()); };
  Spit(JoinPath(dir, "signing.key"), HandArmour("STRAIT ED25519 SECRET KEY", bytes(c.device_key.seed.bytes())), 0600);
  Spit(JoinPath(dir, "noise.key"), HandArmour("STRAIT X25519 SECRET KEY", bytes(c.device_noise.secret.bytes())), 0600);
  Spit(JoinPath(dir, "noise.pub"), HandArmour("STRAIT X25519 PUBLIC KEY", bytes(c.device_noise.public_key.bytes())),
       0644);
  Spit(JoinPath(dir, "root.pub"), HandArmour("STRAIT ED25519 PUBLIC KEY", bytes(c.root.public_key.bytes())), 0644);
  auto b = LoadIdentityBundle(dir);
  ASSERT_TRUE(b.ok()) << b.error().reason;
  EXPECT_EQ(b->signing_key.seed, c.device_key.seed);
  ASSERT_TRUE(b->noise_key.has_value());
  EXPECT_EQ(b->noise_key->secret, c.device_noise.secret);
  EXPECT_EQ(b->root_public_key, c.root.public_key);
  EXPECT_EQ(LoadX25519PublicKey(JoinPath(dir, "noise.pub")).value(), c.device_noise.public_key);
}

TEST(KeystoreBundle, RelayBundleWithTlsRoundTrips) {
  TempDir d;
  const Chain& c = TheChain();
  IdentityBundle in;
  in.role = Role::kRelay;
  in.credential = c.relay;
  in.signing_key = c.relay_key;
  in.root_public_key = c.root.public_key;
  in.tls_cert_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  in.tls_key_pem = SecretText("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  ASSERT_TRUE(SaveIdentityBundle(d.path(), in, Overwrite::kRefuse).ok());
  EXPECT_EQ(ListDir(d.path()),
            (std::vector<std::string>{"credential", "root.pub", "signing.key", "tls.crt", "tls.key"}));
  EXPECT_EQ(ModeOf(d.File("tls.key")), 0600u);
  auto b = LoadIdentityBundle(d.path());
  ASSERT_TRUE(b.ok()) << b.error().reason;
  EXPECT_EQ(b->role, Role::kRelay);
  EXPECT_FALSE(b->noise_key.has_value());
  EXPECT_EQ(b->tls_key_pem.view(), in.tls_key_pem.view());

  std::filesystem::remove(d.File("tls.key"));
  auto half = LoadIdentityBundle(d.path());
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, KeystoreError::kMismatch);
}

TEST(KeystoreBundle, RefusesKeysThatAreNotTheCredentials) {
  TempDir d;
  ASSERT_TRUE(SaveIdentityBundle(d.path(), DeviceBundle(), Overwrite::kRefuse).ok());
  ASSERT_TRUE(SaveEd25519SecretKey(d.File("signing.key"), Ed25519KeyPair::Generate(), Overwrite::kReplace).ok());
  auto r = LoadIdentityBundle(d.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kMismatch);
  EXPECT_NE(r.error().reason.find("signing.key"), std::string::npos) << r.error().reason;

  ASSERT_TRUE(SaveEd25519SecretKey(d.File("signing.key"), TheChain().device_key, Overwrite::kReplace).ok());
  ASSERT_TRUE(SaveX25519SecretKey(d.File("noise.key"), X25519KeyPair::Generate(), Overwrite::kReplace).ok());
  auto n = LoadIdentityBundle(d.path());
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, KeystoreError::kMismatch);
  EXPECT_NE(n.error().reason.find("noise.key"), std::string::npos) << n.error().reason;
}

TEST(KeystoreBundle, RefusesInsecureKeyInBundle) {
  TempDir d;
  ASSERT_TRUE(SaveIdentityBundle(d.path(), DeviceBundle(), Overwrite::kRefuse).ok());
  ASSERT_EQ(::chmod(d.File("noise.key").c_str(), 0644), 0);
  auto r = LoadIdentityBundle(d.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kInsecurePermissions);
  EXPECT_NE(r.error().reason.find("chmod 600"), std::string::npos);
}

TEST(KeystoreBundle, RefusesToOverwriteAndWritesNothing) {
  TempDir d;
  ASSERT_TRUE(SaveCredential(d.File("credential"), TheChain().relay, Overwrite::kRefuse).ok());
  auto r = SaveIdentityBundle(d.path(), DeviceBundle(), Overwrite::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kExists);
  EXPECT_EQ(ListDir(d.path()), std::vector<std::string>{"credential"});
  EXPECT_TRUE(SaveIdentityBundle(d.path(), DeviceBundle(), Overwrite::kReplace).ok());
  EXPECT_TRUE(LoadIdentityBundle(d.path()).ok());
}

TEST(KeystoreBundle, MissingFileIsNamed) {
  TempDir d;
  ASSERT_TRUE(SaveIdentityBundle(d.path(), DeviceBundle(), Overwrite::kRefuse).ok());
  std::filesystem::remove(d.File("root.pub"));
  auto r = LoadIdentityBundle(d.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kNotFound);
  EXPECT_NE(r.error().reason.find("root.pub"), std::string::npos);
}

// Issue 8: daemons check their own credential at start. The device credential of TheChain is valid for kNow ± 1 day.
TEST(KeystoreBundle, OwnCredentialCheckRefusesWhatPeersWouldRefuseAndWarnsBeforeExpiry) {
  const IdentityBundle b = DeviceBundle();
  OwnCredentialCheck c = CheckOwnCredential(b, Role::kDevice, kNow);
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.warning, "");  // a day left of two: no warning
  // Within a quarter of its two-day life (12 h, shorter than 24 h): a warning, and it may start.
  c = CheckOwnCredential(b, Role::kDevice, kNow + kDay - 3600);
  EXPECT_EQ(c.error, "");
  EXPECT_NE(c.warning.find("expires in 60 min"), std::string::npos) << c.warning;
  EXPECT_EQ(CheckOwnCredential(b, Role::kDevice, kNow + kDay - 13 * 3600).warning, "");
  // Expired, not yet valid, another role: refused, with the reason's name.
  c = CheckOwnCredential(b, Role::kDevice, kNow + kDay + 1);
  EXPECT_NE(c.error.find("(expired)"), std::string::npos) << c.error;
  c = CheckOwnCredential(b, Role::kDevice, kNow - kDay - 1);
  EXPECT_NE(c.error.find("(not_yet_valid)"), std::string::npos) << c.error;
  c = CheckOwnCredential(b, Role::kConnector, kNow);
  EXPECT_NE(c.error.find("(wrong_role)"), std::string::npos) << c.error;
  // root.pub of another root: the tenant certificate does not verify, and the message points at root.pub.
  IdentityBundle other = DeviceBundle();
  other.root_public_key = Ed25519KeyPair::Generate().public_key;
  c = CheckOwnCredential(other, Role::kDevice, kNow);
  EXPECT_NE(c.error.find("(tenant_cert_bad_signature)"), std::string::npos) << c.error;
  EXPECT_NE(c.error.find("root.pub"), std::string::npos) << c.error;
}

}  // namespace
}  // namespace strait::crypto
