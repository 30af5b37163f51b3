#include "control-plane/api/activation_code.h"

#include <array>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <sodium.h>

#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"

namespace strait::control {
namespace {

constexpr std::string_view kCode = "7K3M9X2P4Q7TAB5C8D9E1F2G";

TEST(ActivationCode, GenerationUsesTheWholeAlphabetAndValidIds) {
  std::set<char> chars;
  std::set<std::string> codes;
  for (int i = 0; i < 300; ++i) {
    ActivationCode c = ActivationCode::Generate();
    std::string compact = c.Compact();
    ASSERT_EQ(compact.size(), kActivationCodeChars);
    EXPECT_TRUE(IsValidId(IdKind::kActivation, c.id())) << compact;
    EXPECT_EQ(c.secret().size(), kActivationSecretChars);
    EXPECT_EQ(std::string(c.id()) + std::string(c.secret()), compact);
    for (char ch : compact) {
      EXPECT_NE(kCrockford.find(ch), std::string_view::npos) << compact;
      chars.insert(ch);
    }
    EXPECT_TRUE(codes.insert(compact).second);
  }
  EXPECT_EQ(chars.size(), 32u);
}

TEST(ActivationCode, DisplayAndNormalisation) {
  auto c = ActivationCode::Parse(kCode);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->Display(), "7K3M-9X2P-4Q7T-AB5C-8D9E-1F2G");
  EXPECT_EQ(c->id(), "7K3M9X2P");
  EXPECT_EQ(c->secret(), "4Q7TAB5C8D9E1F2G");
  for (const char* same : {"7K3M-9X2P-4Q7T-AB5C-8D9E-1F2G", "7k3m-9x2p-4q7t-ab5c-8d9e-1f2g",
                           " 7K3M 9X2P 4Q7T AB5C 8D9E 1F2G ", "7K3M9X2P4Q7TAB5C8D9EIF2G", "7K3M9X2P4Q7TAB5C8D9ElF2G",
                           "7K3M9X2P4Q7TAB5C8D9ELF2G"}) {
    auto p = ActivationCode::Parse(same);
    ASSERT_TRUE(p.has_value()) << same;
    EXPECT_EQ(p->Compact(), kCode) << same;
  }
  auto o = ActivationCode::Parse("OOOO-OOOO-oooo-oooo-0000-0000");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->Compact(), std::string(24, '0'));
  for (const char* bad : {"7K3M9X2P4Q7TAB5C8D9E1F2", "7K3M9X2P4Q7TAB5C8D9E1F2GH", "7K3M9X2P4Q7TAB5C8D9E1F2U",
                          "7K3M_9X2P4Q7TAB5C8D9E1F2G", "", "7K3M9X2P4Q7TAB5C8D9E1F2\xc3\xa9"}) {
    EXPECT_FALSE(ActivationCode::Parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ActivationCode::Parse(std::string(kCode) + std::string(41, '-')).has_value());  // > 64 input bytes
}

TEST(ActivationCode, KeyIsHmacOfTheSecret) {
  ActivationCode c = *ActivationCode::Parse(kCode);
  ActivationKey k = DeriveActivationKey(c);
  // Independently: HMAC-SHA-256 with the label as key over the 16 secret characters.
  std::string_view label = kActivationKeyLabel;
  std::array<uint8_t, 32> want{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const uint8_t*>(label.data()), label.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const uint8_t*>("4Q7TAB5C8D9E1F2G"), 16);
  crypto_auth_hmacsha256_final(&st, want.data());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), k.bytes().begin()));
  // The id half does not enter K; a different secret gives a different K.
  ActivationKey same = DeriveActivationKey(*ActivationCode::Parse("ZZZZZZZZ4Q7TAB5C8D9E1F2G"));
  ActivationKey other = DeriveActivationKey(*ActivationCode::Parse("7K3M9X2P4Q7TAB5C8D9E1F2H"));
  EXPECT_TRUE(std::equal(same.bytes().begin(), same.bytes().end(), k.bytes().begin()));
  EXPECT_FALSE(std::equal(other.bytes().begin(), other.bytes().end(), k.bytes().begin()));
}

TEST(ActivationCode, QrPayloadRoundTrip) {
  ActivationCode c = *ActivationCode::Parse(kCode);
  auto qr = MakeQrPayload(c, "cp.example.com", 8443);
  ASSERT_TRUE(qr.ok()) << qr.error();
  EXPECT_EQ(*qr, "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443");
  auto parsed = ParseQrPayload(*qr);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->code.Compact(), kCode);
  EXPECT_EQ(parsed->host, "cp.example.com");
  EXPECT_EQ(parsed->port, 8443);
  auto ip = ParseQrPayload(*MakeQrPayload(c, "192.0.2.1", 1));
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->host, "192.0.2.1");
  EXPECT_EQ(ip->port, 1);
  EXPECT_EQ(ParseQrPayload(*MakeQrPayload(c, "a", 65535))->port, 65535);
}

TEST(ActivationCode, QrPayloadRefusesAnythingElse) {
  ActivationCode c = *ActivationCode::Parse(kCode);
  for (const char* bad_host : {"", "::1", "[::1]", "cp_example.com", "cp..example", ".cp", "cp.", "cp example",
                               "cp:443", "caf\xc3\xa9.example"}) {
    EXPECT_FALSE(MakeQrPayload(c, bad_host, 8443).ok()) << bad_host;
  }
  EXPECT_FALSE(MakeQrPayload(c, "cp.example", 0).ok());
  EXPECT_TRUE(MakeQrPayload(c, std::string(253, 'a'), 1).ok());
  EXPECT_FALSE(MakeQrPayload(c, std::string(254, 'a'), 1).ok());
  for (const char* bad : {
           "strait1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443",   // lower case
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:cp.example.com:8443",   // lower-case host
           "STRAIT2:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443",   // other version
           "STRAIT1:7K3M-9X2P-4Q7T-AB5C-8D9E-1F2G:CP.EXAMPLE.COM:8443",  // hyphens are not the payload's form
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9EIF2G:CP.EXAMPLE.COM:8443",   // look-alike I
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2:CP.EXAMPLE.COM:8443",    // 23 characters
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM",        // no port
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:0",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:08443",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:65536",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:-1",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP EXAMPLE:8443",       // alphanumeric, but not a host
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP:EXAMPLE:8443",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G::8443",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:[::1]:8443",
           "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443\n",
           "",
       }) {
    EXPECT_FALSE(ParseQrPayload(bad).ok()) << bad;
  }
}

struct ExchangeFixture {
  std::array<uint8_t, 32> e{};
  std::array<uint8_t, 32> signing{};
  std::array<uint8_t, 32> noise{};
  ExchangeFixture() {
    for (size_t i = 0; i < 32; ++i) {
      e[i] = static_cast<uint8_t>(i);
      signing[i] = static_cast<uint8_t>(0x40 + i);
      noise[i] = static_cast<uint8_t>(0x80 + i);
    }
  }
};

TEST(ActivationCode, MacInputLayout) {
  ExchangeFixture f;
  std::vector<uint8_t> in =
      ActivateMacInput(f.e, "7K3M9X2P", ActivationKind::kDevice, f.signing, std::span<const uint8_t, 32>(f.noise),
                       std::nullopt);
  std::string want = std::string("strait/activate/1") + '\0';
  want.append(f.e.begin(), f.e.end());
  want += "7K3M9X2Pdevice";
  want.append(f.signing.begin(), f.signing.end());
  want.append(f.noise.begin(), f.noise.end());
  want.append(32, '\0');
  EXPECT_EQ(std::string(in.begin(), in.end()), want);

  // A relay: no noise key (32 zeros), SHA-256 of its SPKI.
  std::vector<uint8_t> spki = {1, 2, 3};
  std::vector<uint8_t> relay =
      ActivateMacInput(f.e, "7K3M9X2P", ActivationKind::kRelay, f.signing, std::nullopt, spki);
  std::array<uint8_t, 32> h{};
  crypto_hash_sha256(h.data(), spki.data(), spki.size());
  ASSERT_EQ(relay.size(), 18 + 32 + 8 + 5 + 32 + 32 + 32);
  EXPECT_TRUE(std::all_of(relay.end() - 64, relay.end() - 32, [](uint8_t b) { return b == 0; }));
  EXPECT_TRUE(std::equal(h.begin(), h.end(), relay.end() - 32));

  std::vector<uint8_t> proof = KeyProofInput(f.e);
  std::string proof_want = std::string("strait/activate-key/1") + '\0';
  proof_want.append(f.e.begin(), f.e.end());
  EXPECT_EQ(std::string(proof.begin(), proof.end()), proof_want);
}

TEST(ActivationCode, MacsVerifyAndBindEveryInput) {
  ExchangeFixture f;
  ActivationKey k = DeriveActivationKey(*ActivationCode::Parse(kCode));
  ActivationKey wrong = DeriveActivationKey(*ActivationCode::Parse("7K3M9X2P4Q7TAB5C8D9E1F2H"));
  std::vector<uint8_t> in = ActivateMacInput(f.e, "7K3M9X2P", ActivationKind::kConnector, f.signing,
                                             std::span<const uint8_t, 32>(f.noise), std::nullopt);
  Mac mac = ActivateMac(k, in);
  EXPECT_TRUE(VerifyActivateMac(k, in, mac));
  EXPECT_FALSE(VerifyActivateMac(wrong, in, mac));
  EXPECT_FALSE(VerifyActivateMac(k, in, std::span<const uint8_t>(mac.data(), 31)));
  for (size_t i = 0; i < in.size(); i += 7) {
    std::vector<uint8_t> t = in;
    t[i] ^= 1;
    EXPECT_FALSE(VerifyActivateMac(k, t, mac)) << i;
  }
  Mac m2 = mac;
  m2[31] ^= 0x80;
  EXPECT_FALSE(VerifyActivateMac(k, in, m2));

  // The server's header MAC: over E and SHA-256(body), base64.
  std::string header = ActivatedMacHeader(k, f.e, R"({"version":1})");
  auto raw = DecodeBase64(header);
  ASSERT_TRUE(raw.has_value());
  Mac am = ActivatedMac(k, f.e, R"({"version":1})");
  EXPECT_TRUE(std::equal(am.begin(), am.end(), raw->begin()));
  EXPECT_NE(header, ActivatedMacHeader(k, f.e, R"({"version":2})"));
  std::array<uint8_t, 32> e2 = f.e;
  e2[0] ^= 1;
  EXPECT_NE(header, ActivatedMacHeader(k, e2, R"({"version":1})"));
  EXPECT_NE(header, ActivatedMacHeader(wrong, f.e, R"({"version":1})"));
}

}  // namespace
}  // namespace strait::control
