#include "crypto/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace strait::crypto {
namespace {

constexpr uint64_t kNow = 1'700'000'000;
constexpr uint64_t kDay = 86'400;
using Bytes = std::vector<uint8_t>;

// A fresh directory under $TMPDIR (mkdtemp), removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/strait-keystore-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(std::string_view name) const { return JoinPath(path_, name); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
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

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A root, a tenant "acme" and one credential of each role.
struct Chain {
  Ed25519KeyPair root = Ed25519KeyPair::Generate();
  Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  Ed25519KeyPair device_key = Ed25519KeyPair::Generate();
  X25519KeyPair device_noise = X25519KeyPair::Generate();
  Ed25519KeyPair relay_key = Ed25519KeyPair::Generate();
  Bytes tenant_cert;
  Bytes device;
  Bytes relay;

  Chain() {
    tenant_cert = IssueTenantCert(root, {"acme", tenant.public_key, kNow - 10 * kDay, kNow + 10 * kDay}).value();
    CredentialParams p{Role::kDevice, "phone-1", device_key.public_key, device_noise.public_key, 1,
                       kNow - kDay, kNow + kDay};
    device = IssueCredential(tenant, tenant_cert, p).value();
    CredentialParams r{Role::kRelay, "relay-1", relay_key.public_key, {}, 2, kNow - kDay, kNow + kDay};
    relay = IssueRelayCredential(root, r).value();
  }
};

const Chain& TheChain() {
  static const Chain* c = new Chain();
  return *c;
}

// --- Text codec ---

TEST(KeystoreCodec, ArmourLooksLikePem) {
  const Ed25519KeyPair k = Ed25519KeyPair::Generate();
  const std::string text = EncodeEd25519PublicKey(k.public_key);
  EXPECT_TRUE(text.starts_with("-----BEGIN STRAIT ED25519 PUBLIC KEY-----\n")) << text;
  EXPECT_TRUE(text.ends_with("\n-----END STRAIT ED25519 PUBLIC KEY-----\n")) << text;
  EXPECT_EQ(DetectArmorType(text).value(), ArmorType::kEd25519PublicKey);
}

TEST(KeystoreCodec, RoundTripsEveryType) {
  const Chain& c = TheChain();
  const Ed25519KeyPair ed = Ed25519KeyPair::Generate();
  const X25519KeyPair x = X25519KeyPair::Generate();

  EXPECT_EQ(DecodeEd25519PublicKey(EncodeEd25519PublicKey(ed.public_key)).value(), ed.public_key);
  EXPECT_EQ(DecodeX25519PublicKey(EncodeX25519PublicKey(x.public_key)).value(), x.public_key);
  {
    const SecretText t = EncodeEd25519SecretKey(ed);
    auto back = DecodeEd25519SecretKey(t.view());
    ASSERT_TRUE(back.ok()) << back.error().reason;
    EXPECT_EQ(back->seed, ed.seed);
    EXPECT_EQ(back->public_key, ed.public_key);
  }
  {
    const SecretText t = EncodeX25519SecretKey(x);
    auto back = DecodeX25519SecretKey(t.view());
    ASSERT_TRUE(back.ok()) << back.error().reason;
    EXPECT_EQ(back->secret, x.secret);
    EXPECT_EQ(back->public_key, x.public_key);
  }
  EXPECT_EQ(DecodeTenantCert(EncodeTenantCert(c.tenant_cert)).value(), c.tenant_cert);
  EXPECT_EQ(DecodeCredential(EncodeCredential(c.device)).value(), c.device);
  EXPECT_EQ(DecodeCredential(EncodeCredential(c.relay)).value(), c.relay);
}

TEST(KeystoreCodec, WrapsBase64AtSixtyFourColumns) {
  const std::string text = EncodeCredential(TheChain().device);
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GE(lines.size(), 4u);
  for (size_t i = 1; i + 2 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), kArmorLineWidth) << i;
  EXPECT_GE(lines[lines.size() - 2].size(), 1u);
  EXPECT_LE(lines[lines.size() - 2].size(), kArmorLineWidth);
}

struct BadText {
  const char* name;
  std::function<std::string(const std::string&)> edit;  // from a valid credential's text
  KeystoreError code;
  const char* reason_has;
};

std::string ReplaceFirst(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// Replaces the character just before the first "\n-----END" (the body's last character).
std::string EditLastBodyChar(std::string s, char c) {
  const size_t end = s.find("\n-----END");
  size_t pos = end - 1;
  while (s[pos] == '=') --pos;
  s[pos] = c;
  return s;
}

TEST(KeystoreCodec, RejectsMalformedTextWithClearReasons) {
  const std::string good = EncodeCredential(TheChain().device);
  const std::vector<BadText> cases = {
      {"empty", [](const std::string&) { return std::string(); }, KeystoreError::kNotArmoured, "empty"},
      {"pem certificate",
       [](const std::string&) { return std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"); },
       KeystoreError::kNotArmoured, "CERTIFICATE"},
      {"plain text", [](const std::string&) { return std::string("hello\n"); }, KeystoreError::kNotArmoured,
       "BEGIN STRAIT"},
      {"wrong label",
       [](const std::string& s) {
         return ReplaceFirst(ReplaceFirst(s, "STRAIT CREDENTIAL", "STRAIT TENANT CERT"), "STRAIT CREDENTIAL",
                             "STRAIT TENANT CERT");
       },
       KeystoreError::kWrongType, "expected a STRAIT CREDENTIAL"},
      {"unknown label",
       [](const std::string& s) { return ReplaceFirst(s, "STRAIT CREDENTIAL", "STRAIT WIDGET"); },
       KeystoreError::kWrongType, "unknown Strait file type"},
      {"end mismatch",
       [](const std::string& s) { return ReplaceFirst(s, "END STRAIT CREDENTIAL", "END STRAIT TENANT CERT"); },
       KeystoreError::kBadArmour, "END line does not match"},
      {"bad base64 char", [](const std::string& s) { return EditLastBodyChar(s, '*'); }, KeystoreError::kBadBase64,
       "not a base64 character"},
      {"non-canonical base64 (unused bits set)",
       [](const std::string& s) {
         // Last significant character of a padded group: flipping its low bits makes unused bits non-zero.
         std::string t = s;
         const size_t end = t.find("=\n-----END");
         if (end == std::string::npos) return EditLastBodyChar(t, '!');
         t[end - 1] = (t[end - 1] == 'B') ? 'C' : 'B';
         return t;
       },
       KeystoreError::kBadBase64, "canonical base64"},
      {"trailing garbage", [](const std::string& s) { return s + "extra\n"; }, KeystoreError::kTrailingData,
       "trailing data"},
      {"truncated mid-body", [](const std::string& s) { return s.substr(0, s.size() / 2); },
       KeystoreError::kBadArmour, "truncated"},
      {"no END line",
       [](const std::string& s) { return s.substr(0, s.find("-----END")); }, KeystoreError::kBadArmour,
       "truncated"},
      {"missing final newline", [](const std::string& s) { return s.substr(0, s.size() - 1); },
       KeystoreError::kBadArmour, "missing newline"},
      {"crlf",
       [](const std::string& s) {
         std::string t;
         for (char c : s) {
           if (c == '\n') t += '\r';
           t += c;
         }
         return t;
       },
       KeystoreError::kBadArmour, "carriage return"},
      {"empty body",
       [](const std::string&) { return std::string("-----BEGIN STRAIT CREDENTIAL-----\n-----END STRAIT CREDENTIAL-----\n"); },
       KeystoreError::kBadArmour, "no base64 body"},
      {"blank line", [](const std::string& s) { return ReplaceFirst(s, "-----\n", "-----\n\n"); },
       KeystoreError::kBadArmour, "empty line"},
      {"rewrapped at 76 columns",
       [](const std::string& s) {
         // Join the body and wrap it differently: same bytes, not the canonical form.
         std::istringstream in(s);
         std::string line, body, head, tail;
         std::getline(in, head);
         while (std::getline(in, line) && !line.starts_with("-----END")) body += line;
         tail = line;
         std::string t = head + "\n";
         for (size_t i = 0; i < body.size(); i += 76) t += body.substr(i, 76) + "\n";
         return t + tail + "\n";
       },
       KeystoreError::kBadArmour, "longer than 64"},
      {"short line before the last",
       [](const std::string& s) {
         const size_t first_body = s.find('\n') + 1;
         std::string t = s;
         t.insert(first_body + 60, "\n");
         return t;
       },
       KeystoreError::kBadArmour, "must be 64 characters"},
      {"too large", [](const std::string& s) { return s + std::string(kMaxKeystoreFileSize, 'A'); },
       KeystoreError::kTooLarge, "more than"},
  };
  for (const BadText& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = DecodeCredential(c.edit(good));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, c.code) << KeystoreErrorName(r.error().code) << ": " << r.error().reason;
    EXPECT_NE(r.error().reason.find(c.reason_has), std::string::npos) << r.error().reason;
  }
}

TEST(KeystoreCodec, RejectsWrongPayloadLength) {
  const Bytes short_key(31, 7);
  auto r = DecodeEd25519PublicKey(Armor(ArmorType::kEd25519PublicKey, short_key));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kBadLength);
  EXPECT_NE(r.error().reason.find("31 bytes"), std::string::npos) << r.error().reason;
  auto s = DecodeX25519SecretKey(Armor(ArmorType::kX25519SecretKey, Bytes(33, 7)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, KeystoreError::kBadLength);
}

TEST(KeystoreCodec, RejectsAllZeroPublicKeysAndUnparsableCredentials) {
  EXPECT_EQ(DecodeX25519PublicKey(Armor(ArmorType::kX25519PublicKey, Bytes(32, 0))).error().code,
            KeystoreError::kBadContent);
  EXPECT_EQ(DecodeEd25519PublicKey(Armor(ArmorType::kEd25519PublicKey, Bytes(32, 0))).error().code,
            KeystoreError::kBadContent);
  auto r = DecodeCredential(Armor(ArmorType::kCredential, Bytes(40, 1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kBadContent);
  EXPECT_NE(r.error().reason.find("credential does not parse"), std::string::npos) << r.error().reason;
  Bytes truncated = TheChain().tenant_cert;
  truncated.pop_back();
  EXPECT_EQ(DecodeTenantCert(Armor(ArmorType::kTenantCert, truncated)).error().code, KeystoreError::kBadContent);
}

TEST(KeystoreCodec, SecretKeyTextIsNotAcceptedAsPublic) {
  const Ed25519KeyPair k = Ed25519KeyPair::Generate();
  const SecretText t = EncodeEd25519SecretKey(k);
  auto r = DecodeEd25519PublicKey(t.view());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kWrongType);
  EXPECT_NE(r.error().reason.find("STRAIT ED25519 SECRET KEY"), std::string::npos) << r.error().reason;
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
