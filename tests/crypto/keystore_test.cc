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

std::string Slurp(const std::string& path) { return ReadPublicFile(path).value(); }

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

std::string ReplaceFirst(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

Bytes FromHex(std::string_view hex) {
  Bytes out(hex.size() / 2);
  size_t len = 0;
  EXPECT_EQ(sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, nullptr), 0) << hex;
  out.resize(len);
  return out;
}

// "-----BEGIN <label>-----", base64 at 64 columns, "-----END <label>-----", written here with libsodium rather than
// keystore.cc's own encoder: fixtures in the older Strait armour, and hand-made PEM.
std::string HandArmour(std::string_view label, const Bytes& payload) {
  std::string b64(sodium_base64_ENCODED_LEN(payload.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), payload.data(), payload.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

// Known keys. RFC 8410 section 10.3's PKCS#8 Ed25519 key and section 10.1's public key, its pair.
constexpr std::string_view kRfc8410PrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRfc8410PublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n";
// RFC 7748 section 6.1: Alice's X25519 key (the PEM as `openssl pkey` writes it).
constexpr std::string_view kAliceSecretHex = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr std::string_view kAlicePublicHex = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr std::string_view kAlicePrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VuBCIEIHcHbQpzGKV9PBbBclGyZkXfTC+H68CZKrF3+6UduSwq\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kAlicePublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
    "-----END PUBLIC KEY-----\n";
// Keys of other types, made with `openssl genpkey` for these tests and used nowhere else.
constexpr std::string_view kP256PrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkmMY36z4n5ZkV3QM\n"
    "4U5oBCZMpABwZMSss/cIahf/aMKhRANCAASBACbWSBXgwP08v+GDNPUqhVGD0Sno\n"
    "T8ul+3CNxNCL9OjMSojWTSfn81kIXJMCruOqgcTdlHEX9eZybyYW6lJH\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kP256PublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgQAm1kgV4MD9PL/hgzT1KoVRg9Ep\n"
    "6E/LpftwjcTQi/TozEqI1k0n5/NZCFyTAq7jqoHE3ZRxF/Xmcm8mFupSRw==\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kRsa512PrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA2F/xIphLakmx+xY1\n"
    "n45fIWsrR3ND4RB87oI8E1jSwntjLvvzpijRu3EmnFvzc986OVr5rgHg+K2mybhK\n"
    "vqCNnQIDAQABAkAwmwzOGqwGSlvC7bBKEW9pUGu+dzQuYMfPxE2+gtuFeExuMBKM\n"
    "X79l9d9mFChvXS1ZVtGDI5bBkgLd8QuBRPk5AiEA9d4AdrhQcxsh6w+g5ECcH/k3\n"
    "F+QjFsAdqn9RZLIBNQsCIQDhSsh9ptLYCnbbE6ROQseg77Ito83a3AFRq9D7FZ8g\n"
    "9wIhALOKDsqi41R6vrT476NeLuQGR53xoVHurnsfh99BQTJrAiEAhr6wjR5iyp3v\n"
    "mnXz9m7QcPwLqGppK7Yb/9nwgsvawd8CIHBfFMqr4Asg8eTkLia4MWtiYHbbYDDw\n"
    "97d+0DoO40h6\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kEd448PrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MEcCAQAwBQYDK2VxBDsEOdXTT5lTwGnoRBwbqSEwgd5GlPjlaFaAtTeud3Xfx4I4\n"
    "yYeYbffzj7QI5MMwYY8HSPud3AxWz6i5/Q==\n"
    "-----END PRIVATE KEY-----\n";

TEST(KeystoreCodec, KeysArePemTenantCertsAndCredentialsStraitArmour) {
  const Ed25519KeyPair k = Ed25519KeyPair::Generate();
  const std::string pub = EncodeEd25519PublicKey(k.public_key);
  EXPECT_TRUE(pub.starts_with("-----BEGIN PUBLIC KEY-----\n")) << pub;
  EXPECT_TRUE(pub.ends_with("\n-----END PUBLIC KEY-----\n")) << pub;
  const SecretText sec = EncodeX25519SecretKey(X25519KeyPair::Generate());
  EXPECT_TRUE(sec.view().starts_with("-----BEGIN PRIVATE KEY-----\n")) << sec.view();
  const std::string cred = EncodeCredential(TheChain().device);
  EXPECT_TRUE(cred.starts_with("-----BEGIN STRAIT CREDENTIAL-----\n")) << cred;

  auto p = DetectFileType(pub);
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_EQ(p->type, ArmorType::kEd25519PublicKey);
  EXPECT_EQ(p->form, FileForm::kPem);
  auto s = DetectFileType(sec.view());
  ASSERT_TRUE(s.ok()) << s.error().reason;
  EXPECT_EQ(s->type, ArmorType::kX25519SecretKey);
  EXPECT_EQ(s->form, FileForm::kPem);
  auto c = DetectFileType(cred);
  ASSERT_TRUE(c.ok()) << c.error().reason;
  EXPECT_EQ(c->type, ArmorType::kCredential);
  EXPECT_EQ(c->form, FileForm::kStraitArmour);
}

TEST(KeystoreCodec, PemKeysMatchPublishedExamples) {
  // Ed25519: the RFC 8410 pair decodes to each other, and re-encodes to the RFC's exact text.
  auto ed = DecodeEd25519SecretKey(kRfc8410PrivateKey);
  ASSERT_TRUE(ed.ok()) << ed.error().reason;
  auto ed_pub = DecodeEd25519PublicKey(kRfc8410PublicKey);
  ASSERT_TRUE(ed_pub.ok()) << ed_pub.error().reason;
  EXPECT_EQ(ed->public_key, *ed_pub);
  EXPECT_EQ(EncodeEd25519SecretKey(*ed).view(), kRfc8410PrivateKey);
  EXPECT_EQ(EncodeEd25519PublicKey(*ed_pub), kRfc8410PublicKey);
  EXPECT_EQ(Bytes(ed->seed.bytes().begin(), ed->seed.bytes().end()),
            FromHex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"));

  // X25519: RFC 7748's Alice, secret and public key.
  auto x = DecodeX25519SecretKey(kAlicePrivateKey);
  ASSERT_TRUE(x.ok()) << x.error().reason;
  EXPECT_EQ(Bytes(x->secret.bytes().begin(), x->secret.bytes().end()), FromHex(kAliceSecretHex));
  EXPECT_EQ(Bytes(x->public_key.bytes().begin(), x->public_key.bytes().end()), FromHex(kAlicePublicHex));
  auto x_pub = DecodeX25519PublicKey(kAlicePublicKey);
  ASSERT_TRUE(x_pub.ok()) << x_pub.error().reason;
  EXPECT_EQ(*x_pub, x->public_key);
  EXPECT_EQ(EncodeX25519SecretKey(*x).view(), kAlicePrivateKey);
  EXPECT_EQ(EncodeX25519PublicKey(*x_pub), kAlicePublicKey);
}

TEST(KeystoreCodec, ReadsKeysInTheOlderStraitArmour) {
  // Files as Strait wrote them before PEM keys, written out by hand: the same keys as the PEM examples.
  const Bytes ed_seed = FromHex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
  const std::string old_ed = "-----BEGIN STRAIT ED25519 SECRET KEY-----\n"
                             "1O5y2/kTWErVttjx92n4rTr+fCjL8dT74Jeoj0R1WEI=\n"
                             "-----END STRAIT ED25519 SECRET KEY-----\n";
  ASSERT_EQ(old_ed, HandArmour("STRAIT ED25519 SECRET KEY", ed_seed));
  auto ed = DecodeEd25519SecretKey(old_ed);
  ASSERT_TRUE(ed.ok()) << ed.error().reason;
  EXPECT_EQ(ed->public_key, DecodeEd25519PublicKey(kRfc8410PublicKey).value());
  auto ed_type = DetectFileType(old_ed);
  ASSERT_TRUE(ed_type.ok());
  EXPECT_EQ(ed_type->type, ArmorType::kEd25519SecretKey);
  EXPECT_EQ(ed_type->form, FileForm::kStraitArmour);
  // Re-saving writes PEM: the RFC's text.
  EXPECT_EQ(EncodeEd25519SecretKey(*ed).view(), kRfc8410PrivateKey);

  const Bytes ed_pub(ed->public_key.bytes().begin(), ed->public_key.bytes().end());
  EXPECT_EQ(DecodeEd25519PublicKey(HandArmour("STRAIT ED25519 PUBLIC KEY", ed_pub)).value(), ed->public_key);

  auto x = DecodeX25519SecretKey(HandArmour("STRAIT X25519 SECRET KEY", FromHex(kAliceSecretHex)));
  ASSERT_TRUE(x.ok()) << x.error().reason;
  EXPECT_EQ(x->public_key, DecodeX25519PublicKey(kAlicePublicKey).value());
  EXPECT_EQ(DecodeX25519PublicKey(HandArmour("STRAIT X25519 PUBLIC KEY", FromHex(kAlicePublicHex))).value(),
            x->public_key);
}

struct WrongKey {
  const char* name;
  std::string text;
  std::function<KeystoreError(std::string_view, std::string*)> decode;  // returns the code, fills the reason
  KeystoreError code;
  const char* reason_has;
};

template <class F>
std::function<KeystoreError(std::string_view, std::string*)> Decoder(F f) {
  return [f](std::string_view text, std::string* reason) {
    auto r = f(text);
    if (r.ok()) return static_cast<KeystoreError>(255);
    *reason = r.error().reason;
    return r.error().code;
  };
}

TEST(KeystoreCodec, RefusesPemKeysOfTheWrongTypeByName) {
  const auto ed_secret = Decoder(DecodeEd25519SecretKey);
  const auto ed_public = Decoder(DecodeEd25519PublicKey);
  const auto x_secret = Decoder(DecodeX25519SecretKey);
  const auto x_public = Decoder(DecodeX25519PublicKey);
  const Bytes seed = FromHex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
  const std::vector<WrongKey> cases = {
      {"P-256 PKCS#8 as Ed25519", std::string(kP256PrivateKey), ed_secret, KeystoreError::kWrongType,
       "holds an EC P-256 key, expected an Ed25519 private key"},
      {"P-256 SPKI as Ed25519 public", std::string(kP256PublicKey), ed_public, KeystoreError::kWrongType,
       "holds an EC P-256 key, expected an Ed25519 public key"},
      {"RSA PKCS#8 as X25519", std::string(kRsa512PrivateKey), x_secret, KeystoreError::kWrongType,
       "holds an RSA key, expected an X25519 private key"},
      {"Ed448 as Ed25519", std::string(kEd448PrivateKey), ed_secret, KeystoreError::kWrongType,
       "holds an OID 1.3.101.113 key"},
      {"X25519 where Ed25519 belongs", std::string(kAlicePrivateKey), ed_secret, KeystoreError::kWrongType,
       "holds an X25519 key, expected an Ed25519 private key"},
      {"Ed25519 where X25519 belongs", std::string(kRfc8410PublicKey), x_public, KeystoreError::kWrongType,
       "holds an Ed25519 key, expected an X25519 public key"},
      {"public where private belongs", std::string(kRfc8410PublicKey), ed_secret, KeystoreError::kWrongType,
       "a PEM 'PUBLIC KEY' block, expected an Ed25519 private key"},
      {"private where public belongs", std::string(kRfc8410PrivateKey), ed_public, KeystoreError::kWrongType,
       "a PEM 'PRIVATE KEY' block, expected an Ed25519 public key"},
      {"encrypted PKCS#8", HandArmour("ENCRYPTED PRIVATE KEY", Bytes(40, 1)), ed_secret, KeystoreError::kWrongType,
       "a PEM 'ENCRYPTED PRIVATE KEY' block"},
      {"older armour of another type", HandArmour("STRAIT X25519 SECRET KEY", seed), ed_secret,
       KeystoreError::kWrongType, "this is a STRAIT X25519 SECRET KEY file, expected an Ed25519 private key"},
      {"certificate", HandArmour("CERTIFICATE", Bytes(40, 1)), ed_public, KeystoreError::kWrongType,
       "a PEM 'CERTIFICATE' block"},
      // Not the one DER form: a PKCS#8 v2 (OneAsymmetricKey) carrying the public key, DER that is not PKCS#8,
      // bytes after the structure, a seed of the wrong length.
      {"PKCS#8 v2 with the public key",
       HandArmour("PRIVATE KEY", FromHex("3051020101300506032b657004220420"
                                         "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
                                         "812100"
                                         "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")),
       ed_secret, KeystoreError::kBadContent, "PKCS#8"},
      {"not DER", HandArmour("PRIVATE KEY", Bytes(48, 0x30)), ed_secret, KeystoreError::kBadContent,
       "not a PKCS#8 private key"},
      {"trailing DER",
       HandArmour("PRIVATE KEY", FromHex("302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cb"
                                         "f1d4fbe097a88f447558420000")),
       ed_secret, KeystoreError::kTrailingData, "after the PKCS#8"},
      {"31-byte seed",
       HandArmour("PRIVATE KEY", FromHex("302d020100300506032b657004210420"
                                         "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f447558")),
       ed_secret, KeystoreError::kBadContent, "not a valid Ed25519"},
      {"all-zero X25519 public key",
       HandArmour("PUBLIC KEY", FromHex("302a300506032b656e032100" + std::string(64, '0'))), x_public,
       KeystoreError::kBadContent, "all-zero"},
  };
  for (const WrongKey& c : cases) {
    SCOPED_TRACE(c.name);
    std::string reason;
    const KeystoreError code = c.decode(c.text, &reason);
    EXPECT_EQ(code, c.code) << KeystoreErrorName(code) << ": " << reason;
    EXPECT_NE(reason.find(c.reason_has), std::string::npos) << reason;
  }
  // DetectFileType names the algorithm of a key Strait does not use (what `strait keys show` reports).
  auto p256 = DetectFileType(kP256PrivateKey);
  ASSERT_FALSE(p256.ok());
  EXPECT_EQ(p256.error().code, KeystoreError::kWrongType);
  EXPECT_NE(p256.error().reason.find("EC P-256"), std::string::npos) << p256.error().reason;
}

TEST(KeystoreCodec, PemTextIsAsStrictAsTheArmour) {
  const std::string good(kRfc8410PublicKey);
  std::string crlf;
  for (char ch : good) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  EXPECT_EQ(DecodeEd25519PublicKey(crlf).error().code, KeystoreError::kBadArmour);
  EXPECT_EQ(DecodeEd25519PublicKey(good + "\n").error().code, KeystoreError::kTrailingData);
  EXPECT_EQ(DecodeEd25519PublicKey(good.substr(0, good.size() - 1)).error().code, KeystoreError::kBadArmour);
  EXPECT_EQ(DecodeEd25519PublicKey(ReplaceFirst(good, "END PUBLIC KEY", "END PRIVATE KEY")).error().code,
            KeystoreError::kBadArmour);
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
       "no -----BEGIN"},
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
  EXPECT_NE(r.error().reason.find("'PRIVATE KEY'"), std::string::npos) << r.error().reason;
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
