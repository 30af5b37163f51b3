// The daemons' half of activation (tunnel/control/activate.h) and the HTTPS client's sans-socket parts
// (tunnel/control/http_client.h): the Redeem body carries a MAC and key proof the server's own check accepts, the
// answer's header verifies only for this code, this session and this body, targets come from --url/--code or --qr,
// problem answers decode to their name, and a server chain is checked against the bundle's CA and the host.
#include "tunnel/control/activate.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/x509_issue.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/http_client.h"

namespace strait::control {
namespace {

using nlohmann::json;

std::vector<uint8_t> FromB64(const json& j) {
  const std::string s = j.get<std::string>();
  std::vector<uint8_t> out(s.size());
  size_t len = 0;
  EXPECT_EQ(sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr,
                              sodium_base64_VARIANT_ORIGINAL),
            0);
  out.resize(len);
  return out;
}

std::array<uint8_t, 32> Exporter(uint8_t fill) {
  std::array<uint8_t, 32> e{};
  e.fill(fill);
  return e;
}

ActivationCode Code(std::string_view text = "7K3M-9X2P-4Q7T-AB5C-8D9E-1F2G") { return ActivationCode::Parse(text).value(); }

TEST(ActivateTest, DeviceRedeemBodyCarriesAMacAndProofTheServerAccepts) {
  const ActivationCode code = Code();
  const auto e = Exporter(0x42);
  const auto signing = crypto::Ed25519KeyPair::Generate();
  const auto noise = crypto::X25519KeyPair::Generate();
  RedeemInput in;
  in.kind = ActivationKind::kDevice;
  in.signing_key = &signing;
  in.noise_key = noise.public_key;
  in.device = DeviceInfo{.os = "linux", .os_version = "", .model = "", .name = "laptop 1"};
  const json j = json::parse(BuildRedeemBody(code, e, in));

  EXPECT_EQ(j.at("activation"), "7K3M9X2P");
  EXPECT_EQ(j.at("kind"), "device");
  EXPECT_EQ(FromB64(j.at("signing_key")), std::vector<uint8_t>(signing.public_key.bytes().begin(),
                                                                signing.public_key.bytes().end()));
  EXPECT_EQ(FromB64(j.at("noise_key")), std::vector<uint8_t>(noise.public_key.bytes().begin(),
                                                              noise.public_key.bytes().end()));
  EXPECT_FALSE(j.contains("tls_public_key"));
  EXPECT_EQ(j.at("device").at("os"), "linux");
  EXPECT_EQ(j.at("device").at("name"), "laptop 1");
  EXPECT_FALSE(j.at("device").contains("model"));  // empty = not sent

  // What the server does (§6.2): recompute the MAC input from the fields and check in constant time.
  const ActivationKey k = DeriveActivationKey(code);
  const auto input = ActivateMacInput(e, "7K3M9X2P", ActivationKind::kDevice, signing.public_key.bytes(),
                                      noise.public_key.bytes(), std::nullopt);
  EXPECT_TRUE(VerifyActivateMac(k, input, FromB64(j.at("mac"))));
  const auto proof = FromB64(j.at("key_proof"));
  ASSERT_EQ(proof.size(), 64u);
  crypto::Ed25519Signature sig;
  ASSERT_TRUE(crypto::Ed25519Signature::FromSpan(proof, &sig));
  EXPECT_TRUE(crypto::Ed25519Verify(signing.public_key, KeyProofInput(e), sig));

  // Bound to the session: under another E the MAC and the proof fail.
  const auto other = Exporter(0x43);
  EXPECT_FALSE(VerifyActivateMac(k, ActivateMacInput(other, "7K3M9X2P", ActivationKind::kDevice,
                                                     signing.public_key.bytes(), noise.public_key.bytes(),
                                                     std::nullopt),
                                 FromB64(j.at("mac"))));
  EXPECT_FALSE(crypto::Ed25519Verify(signing.public_key, KeyProofInput(other), sig));
}

TEST(ActivateTest, RelayRedeemBodyCarriesTheTlsKeyAndNoNoiseKey) {
  const ActivationCode code = Code();
  const auto e = Exporter(7);
  const auto signing = crypto::Ed25519KeyPair::Generate();
  const std::vector<uint8_t> spki = {0x30, 0x59, 0x30, 0x13, 1, 2, 3};
  RedeemInput in;
  in.kind = ActivationKind::kRelay;
  in.signing_key = &signing;
  in.tls_public_key = spki;
  const json j = json::parse(BuildRedeemBody(code, e, in));
  EXPECT_EQ(j.at("kind"), "relay");
  EXPECT_EQ(FromB64(j.at("tls_public_key")), spki);
  EXPECT_FALSE(j.contains("noise_key"));
  EXPECT_FALSE(j.contains("device"));
  const auto input =
      ActivateMacInput(e, code.id(), ActivationKind::kRelay, signing.public_key.bytes(), std::nullopt, spki);
  EXPECT_TRUE(VerifyActivateMac(DeriveActivationKey(code), input, FromB64(j.at("mac"))));
}

TEST(ActivateTest, AnswerMacVerifiesOnlyForThisCodeSessionAndBody) {
  const ActivationCode code = Code();
  const auto e = Exporter(1);
  const std::string body = R"({"version":1})";
  const std::string header = ActivatedMacHeader(DeriveActivationKey(code), e, body);
  EXPECT_TRUE(VerifyActivatedMacHeader(code, e, body, header));
  EXPECT_FALSE(VerifyActivatedMacHeader(code, e, body + " ", header));                // body changed
  EXPECT_FALSE(VerifyActivatedMacHeader(code, Exporter(2), body, header));           // another session
  EXPECT_FALSE(VerifyActivatedMacHeader(Code("7K3M-9X2P-4Q7T-AB5C-8D9E-1F2H"), e, body, header));  // another secret
  EXPECT_FALSE(VerifyActivatedMacHeader(code, e, body, ""));
  EXPECT_FALSE(VerifyActivatedMacHeader(code, e, body, "not base64!"));
  EXPECT_FALSE(VerifyActivatedMacHeader(code, e, body, header.substr(0, header.size() - 4)));  // short
}

TEST(ActivateTest, TargetFromUrlAndCodeOrFromQr) {
  auto t = ResolveActivationTarget("", "", "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->url, "https://cp.example.com:8443");
  EXPECT_EQ(t->code.Compact(), "7K3M9X2P4Q7TAB5C8D9E1F2G");

  t = ResolveActivationTarget("https://cp.example.com", "7k3m-9x2p-4q7t-ab5c-8d9e-1f2g", "");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->url, "https://cp.example.com");
  EXPECT_EQ(t->code.id(), "7K3M9X2P");

  EXPECT_FALSE(ResolveActivationTarget("https://x", "", "").ok());                              // no code
  EXPECT_FALSE(ResolveActivationTarget("", "7K3M9X2P4Q7TAB5C8D9E1F2G", "").ok());               // no url
  EXPECT_FALSE(ResolveActivationTarget("https://x", "7K3M9X2P", "").ok());                      // short code
  EXPECT_FALSE(ResolveActivationTarget("https://x", "", "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:X:1").ok());  // both
  EXPECT_FALSE(ResolveActivationTarget("", "", "STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:cp.example.com:8443").ok());
  EXPECT_FALSE(ResolveActivationTarget("", "", "STRAIT2:7K3M9X2P4Q7TAB5C8D9E1F2G:CP.EXAMPLE.COM:8443").ok());
}

TEST(HttpClientTest, ParsesHttpsUrls) {
  auto u = ParseHttpsUrl("https://cp.example.com:8443");
  ASSERT_TRUE(u.ok()) << u.error().reason;
  EXPECT_EQ(u->host, "cp.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->authority, "cp.example.com:8443");
  u = ParseHttpsUrl("https://[::1]:9443/");
  ASSERT_TRUE(u.ok()) << u.error().reason;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->authority, "[::1]:9443");
  u = ParseHttpsUrl("https://127.0.0.1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 443);
  for (const char* bad : {"http://cp.example.com", "https://", "https://cp.example.com:0", "https://cp:65536",
                          "https://cp:08443", "https://cp.example.com/v1", "https://u@cp", "https://[::1",
                          "https://[nothost]:1", "https://cp:", "https://a..b", "https://cp.example.com?x"}) {
    auto r = ParseHttpsUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, HttpError::kUrl) << bad;
    }
  }
}

TEST(HttpClientTest, DecodesProblemAnswers) {
  ProblemInfo p = DecodeProblem(403, R"({"type":"urn:strait:problem:licence-exhausted","title":"Licence exhausted",
      "status":403,"detail":"tenant acme uses 50 of its 50 device seats","seats":50})");
  EXPECT_EQ(p.status, 403u);
  EXPECT_EQ(p.name, "licence-exhausted");
  EXPECT_EQ(p.detail, "tenant acme uses 50 of its 50 device seats");

  p = DecodeProblem(401, R"({"type":"urn:strait:problem:activation-invalid","title":"Invalid activation"})");
  EXPECT_EQ(p.name, "activation-invalid");
  EXPECT_EQ(p.detail, "Invalid activation");  // no detail: the title

  p = DecodeProblem(502, "<html>bad gateway</html>");
  EXPECT_EQ(p.name, "http-502");
  EXPECT_EQ(p.detail, "");

  // Somebody else's type, an odd name, control characters: nothing of it reaches the one stderr line raw.
  p = DecodeProblem(400, R"({"type":"https://example.com/x","detail":"a\nb\u001b[31m"})");
  EXPECT_EQ(p.name, "http-400");
  EXPECT_EQ(p.detail, "a b [31m");
  p = DecodeProblem(400, R"({"type":"urn:strait:problem:Bad Name"})");
  EXPECT_EQ(p.name, "http-400");
  p = DecodeProblem(400, std::string(1000, '[') + std::string(1000, ']'));  // hostile nesting: refused, no crash
  EXPECT_EQ(p.name, "http-400");
  p = DecodeProblem(409, R"({"type":"urn:strait:problem:activation-used","detail":")" + std::string(2000, 'x') + "\"}");
  EXPECT_EQ(p.detail.size(), 512u);
}

TEST(HttpClientTest, PeerChainMustChainToTheCaAndCarryTheHost) {
  const auto ca = crypto::GenerateCa({}).value();
  const auto other_ca = crypto::GenerateCa({}).value();
  crypto::LeafOptions lo;
  lo.dns_names = {"cp.example.com"};
  lo.ip_addresses = {"127.0.0.1"};
  const auto leaf = crypto::IssueLeafCertificate(ca, lo).value();
  const std::vector<std::string> chain = {leaf.cert_pem};

  EXPECT_TRUE(VerifyPeerChain(chain, ca.cert_pem, "cp.example.com").ok());
  EXPECT_TRUE(VerifyPeerChain(chain, ca.cert_pem, "127.0.0.1").ok());
  EXPECT_TRUE(VerifyPeerChain(chain, other_ca.cert_pem + ca.cert_pem, "cp.example.com").ok());  // a bundle of CAs
  auto r = VerifyPeerChain(chain, other_ca.cert_pem, "cp.example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("does not chain"), std::string::npos) << r.error();
  EXPECT_FALSE(VerifyPeerChain(chain, ca.cert_pem, "other.example.com").ok());
  EXPECT_FALSE(VerifyPeerChain(chain, ca.cert_pem, "127.0.0.2").ok());
  EXPECT_FALSE(VerifyPeerChain({}, ca.cert_pem, "cp.example.com").ok());
  EXPECT_FALSE(VerifyPeerChain(chain, "", "cp.example.com").ok());
  EXPECT_FALSE(VerifyPeerChain(std::vector<std::string>{"garbage"}, ca.cert_pem, "cp.example.com").ok());
}

}  // namespace
}  // namespace strait::control
