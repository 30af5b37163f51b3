// The key and credential text codec (crypto/key_pem.h): PEM keys, the Strait armour, strict parsing.
#include "crypto/key_pem.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/crypto/keystore_test_util.h"
#include "tests/testing/hex.h"

namespace strait::crypto {
namespace {

using testing::Bytes;
using testing::Chain;
using testing::HandArmour;
using testing::TheChain;
using ::strait::testing::Hex;

std::string ReplaceFirst(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
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

TEST(KeyPem, KeysArePemTenantCertsAndCredentialsStraitArmour) {
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

TEST(KeyPem, PemKeysMatchPublishedExamples) {
  // Ed25519: the RFC 8410 pair decodes to each other, and re-encodes to the RFC's exact text.
  auto ed = DecodeEd25519SecretKey(kRfc8410PrivateKey);
  ASSERT_TRUE(ed.ok()) << ed.error().reason;
  auto ed_pub = DecodeEd25519PublicKey(kRfc8410PublicKey);
  ASSERT_TRUE(ed_pub.ok()) << ed_pub.error().reason;
  EXPECT_EQ(ed->public_key, *ed_pub);
  EXPECT_EQ(EncodeEd25519SecretKey(*ed).view(), kRfc8410PrivateKey);
  EXPECT_EQ(EncodeEd25519PublicKey(*ed_pub), kRfc8410PublicKey);
  EXPECT_EQ(Bytes(ed->seed.bytes().begin(), ed->seed.bytes().end()),
            Hex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"));

  // X25519: RFC 7748's Alice, secret and public key.
  auto x = DecodeX25519SecretKey(kAlicePrivateKey);
  ASSERT_TRUE(x.ok()) << x.error().reason;
  EXPECT_EQ(Bytes(x->secret.bytes().begin(), x->secret.bytes().end()), Hex(kAliceSecretHex));
  EXPECT_EQ(Bytes(x->public_key.bytes().begin(), x->public_key.bytes().end()), Hex(kAlicePublicHex));
  auto x_pub = DecodeX25519PublicKey(kAlicePublicKey);
  ASSERT_TRUE(x_pub.ok()) << x_pub.error().reason;
  EXPECT_EQ(*x_pub, x->public_key);
  EXPECT_EQ(EncodeX25519SecretKey(*x).view(), kAlicePrivateKey);
  EXPECT_EQ(EncodeX25519PublicKey(*x_pub), kAlicePublicKey);
}

TEST(KeyPem, ReadsKeysInTheOlderStraitArmour) {
  // Files as Strait wrote them before PEM keys, written out by hand: the same keys as the PEM examples.
  const Bytes ed_seed = Hex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
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

  auto x = DecodeX25519SecretKey(HandArmour("STRAIT X25519 SECRET KEY", Hex(kAliceSecretHex)));
  ASSERT_TRUE(x.ok()) << x.error().reason;
  EXPECT_EQ(x->public_key, DecodeX25519PublicKey(kAlicePublicKey).value());
  EXPECT_EQ(DecodeX25519PublicKey(HandArmour("STRAIT X25519 PUBLIC KEY", Hex(kAlicePublicHex))).value(),
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

TEST(KeyPem, RefusesPemKeysOfTheWrongTypeByName) {
  const auto ed_secret = Decoder(DecodeEd25519SecretKey);
  const auto ed_public = Decoder(DecodeEd25519PublicKey);
  const auto x_secret = Decoder(DecodeX25519SecretKey);
  const auto x_public = Decoder(DecodeX25519PublicKey);
  const Bytes seed = Hex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
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
       HandArmour("PRIVATE KEY", Hex("3051020101300506032b657004220420"
                                         "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
                                         "812100"
                                         "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")),
       ed_secret, KeystoreError::kBadContent, "PKCS#8"},
      {"not DER", HandArmour("PRIVATE KEY", Bytes(48, 0x30)), ed_secret, KeystoreError::kBadContent,
       "not a PKCS#8 private key"},
      {"trailing DER",
       HandArmour("PRIVATE KEY", Hex("302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cb"
                                         "f1d4fbe097a88f447558420000")),
       ed_secret, KeystoreError::kTrailingData, "after the PKCS#8"},
      {"31-byte seed",
       HandArmour("PRIVATE KEY", Hex("302d020100300506032b657004210420"
                                         "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f447558")),
       ed_secret, KeystoreError::kBadContent, "not a valid Ed25519"},
      {"all-zero X25519 public key",
       HandArmour("PUBLIC KEY", Hex("302a300506032b656e032100" + std::string(64, '0'))), x_public,
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

TEST(KeyPem, PemTextIsAsStrictAsTheArmour) {
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

TEST(KeyPem, RoundTripsEveryType) {
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

TEST(KeyPem, WrapsBase64AtSixtyFourColumns) {
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

TEST(KeyPem, RejectsMalformedTextWithClearReasons) {
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

TEST(KeyPem, RejectsWrongPayloadLength) {
  const Bytes short_key(31, 7);
  auto r = DecodeEd25519PublicKey(Armor(ArmorType::kEd25519PublicKey, short_key));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kBadLength);
  EXPECT_NE(r.error().reason.find("31 bytes"), std::string::npos) << r.error().reason;
  auto s = DecodeX25519SecretKey(Armor(ArmorType::kX25519SecretKey, Bytes(33, 7)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, KeystoreError::kBadLength);
}

TEST(KeyPem, RejectsAllZeroPublicKeysAndUnparsableCredentials) {
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

TEST(KeyPem, SecretKeyTextIsNotAcceptedAsPublic) {
  const Ed25519KeyPair k = Ed25519KeyPair::Generate();
  const SecretText t = EncodeEd25519SecretKey(k);
  auto r = DecodeEd25519PublicKey(t.view());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeystoreError::kWrongType);
  EXPECT_NE(r.error().reason.find("'PRIVATE KEY'"), std::string::npos) << r.error().reason;
}

}  // namespace
}  // namespace strait::crypto
