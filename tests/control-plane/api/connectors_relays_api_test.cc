// Connectors, relays and their activations through the real server (docs/control-plane.md §4.8, §4.9), including a
// connector's and a relay's enrolment through POST /v1/activate and what their revocation appends to the stream.
#include "tests/control-plane/api/api_fixture.h"

#include "control-plane/api/activation_code.h"
#include "control-plane/api/formats.h"
#include "crypto/credential.h"
#include "tunnel/control/control_wire.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace strait::control::testing {
namespace {

namespace wire = strait::control::wire;
using ConnectorsRelaysApiTest = ApiFixture;

constexpr const char* kRelay1 =
    R"({"id":"relay-1","display_name":"Relay 1","device_endpoint":"relay1.example.com:443",)"
    R"("connector_endpoint":"10.0.0.1:3101","tls_names":["relay1.example.com"],"tls_ips":["10.0.0.1"]})";

// A fresh P-256 key's SubjectPublicKeyInfo (DER), as a relay makes at enrolment.
std::vector<uint8_t> P256Spki() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  std::vector<uint8_t> out(der, der + (n > 0 ? n : 0));
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return out;
}

// Redeems `code` as a connector (noise key) or a relay (TLS key) on one connection.
Reply Enrol(HttpsClient c, const std::string& code, const std::string& kind, const crypto::Ed25519KeyPair& signing,
            const std::vector<uint8_t>& spki = {}) {
  const auto e = c.Exporter(kActivateExporterLabel);
  auto parsed = ActivationCode::Parse(code);
  const ActivationKey k = DeriveActivationKey(*parsed);
  const crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  const bool relay = kind == "relay";
  auto input = relay ? ActivateMacInput(e, parsed->id(), ActivationKind::kRelay, signing.public_key.bytes(),
                                        std::nullopt, std::span<const uint8_t>(spki))
                     : ActivateMacInput(e, parsed->id(), ActivationKind::kConnector, signing.public_key.bytes(),
                                        noise.public_key.bytes(), std::nullopt);
  nlohmann::json j = {{"activation", std::string(parsed->id())},
                      {"kind", kind},
                      {"signing_key", EncodeBase64(signing.public_key.bytes())},
                      {"key_proof", EncodeBase64(signing.Sign(KeyProofInput(e)).bytes())},
                      {"mac", EncodeBase64(ActivateMac(k, input))}};
  if (relay) {
    j["tls_public_key"] = EncodeBase64(spki);
  } else {
    j["noise_key"] = EncodeBase64(noise.public_key.bytes());
  }
  Reply r = c.Send("POST", "/v1/activate", j.dump(), {{"Content-Type", "application/json"}});
  if (r.status == 200u) {
    EXPECT_EQ(r.Header("strait-activation-mac"), ActivatedMacHeader(k, e, r.body));
  }
  return r;
}

std::vector<nlohmann::json> EventsAfter(store::Store& s, store::EventId after) {
  auto tx = s.Read();
  auto events = (*tx)->ReadEvents(after, 100);
  std::vector<nlohmann::json> out;
  for (const auto& e : *events) out.push_back(nlohmann::json::parse(e.body));
  return out;
}

TEST_F(ConnectorsRelaysApiTest, RelayCreateListPatchAndEndpointCoverage) {
  Reply r = Call("POST", "/v1/relays", op_key_, kRelay1);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.Header("location"), "/v1/relays/relay-1");
  nlohmann::json j = Body(r);
  EXPECT_EQ(j["state"], "pending");
  EXPECT_EQ(j["tls_names"], nlohmann::json::array({"relay1.example.com"}));
  EXPECT_TRUE(j["credential"].is_null());
  EXPECT_EQ(Call("POST", "/v1/relays", op_key_, kRelay1).status, 409u);

  // An endpoint its certificate would not carry.
  Reply uncovered = Call("POST", "/v1/relays", op_key_,
                         R"({"id":"relay-2","display_name":"R2","device_endpoint":"other.example.com:443",)"
                         R"("connector_endpoint":"relay2.example.com:3101","tls_names":["relay2.example.com"]})");
  EXPECT_EQ(uncovered.status, 400u);
  EXPECT_EQ(Body(uncovered)["errors"][0]["pointer"], "/device_endpoint");
  Reply bad = Call("POST", "/v1/relays", op_key_,
                   R"({"id":"relay-2","display_name":"R2","device_endpoint":"relay2:0",)"
                   R"("connector_endpoint":"[::1]:3101","tls_ips":["::1","nope"]})");
  EXPECT_EQ(bad.status, 400u);

  Reply patched = Call("PATCH", "/v1/relays/relay-1", op_key_, R"({"device_endpoint":"10.0.0.1:443"})");
  ASSERT_EQ(patched.status, 200u) << patched.body;
  EXPECT_EQ(Body(patched)["device_endpoint"], "10.0.0.1:443");
  Reply drops = Call("PATCH", "/v1/relays/relay-1", op_key_, R"({"tls_ips":[]})");
  EXPECT_EQ(drops.status, 400u) << drops.body;  // both endpoints now on 10.0.0.1
  Reply list = Call("GET", "/v1/relays", op_key_);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(Body(list)["items"].size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/relays/nope", op_key_).status, 404u);
}

TEST_F(ConnectorsRelaysApiTest, RelayEnrolsWithATlsCertificateAndIsRevoked) {
  ASSERT_EQ(Call("POST", "/v1/relays", op_key_, kRelay1).status, 201u);
  Reply act = Call("POST", "/v1/relays/relay-1/activations", op_key_, R"({"expires_in_s":600})");
  ASSERT_EQ(act.status, 201u) << act.body;
  EXPECT_EQ(Body(act)["kind"], "relay");
  EXPECT_EQ(Body(act)["relay"], "relay-1");
  const crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
  Reply r = Enrol(Client(), Body(act)["code"], "relay", signing, P256Spki());
  ASSERT_EQ(r.status, 200u) << r.body;
  nlohmann::json b = Body(r);
  std::printf("relay bundle as sent: %s\n", r.body.c_str());
  EXPECT_EQ(b["kind"], "relay");
  EXPECT_FALSE(b.contains(std::string(wire::kBundleTenantField)));
  EXPECT_FALSE(b.contains(std::string(wire::kBundleConnectorsField)));
  EXPECT_FALSE(b.contains(std::string(wire::kBundlePolicyField)));
  const std::string chain = b[std::string(wire::kBundleTlsCertField)];
  EXPECT_NE(chain.find(ca_pem_), std::string::npos);
  EXPECT_EQ(b["relays"], nlohmann::json::parse(R"([{"id":"relay-1","device":"relay1.example.com:443","connector":"10.0.0.1:3101"}])"));
  auto cred = DecodeBase64(b["credential"].get<std::string>());
  auto v = crypto::VerifyCredential(*cred, root_.public_key, static_cast<uint64_t>(clock_.now.load()),
                                    crypto::VerifyOptions{crypto::RoleSet{crypto::Role::kRelay}, std::nullopt});
  ASSERT_TRUE(v.ok()) << crypto::CredentialErrorName(v.error().code);
  EXPECT_EQ(v->subject_id, "relay-1");
  EXPECT_EQ(v->not_after, static_cast<uint64_t>(clock_.now + 168 * 3600));

  nlohmann::json got = Body(Call("GET", "/v1/relays/relay-1", op_key_));
  EXPECT_EQ(got["state"], "active");
  EXPECT_EQ(got["credential"]["serial"], std::to_string(v->serial));
  EXPECT_FALSE(got["tls_cert_not_after"].is_null());

  const store::EventId before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/relays/relay-1", op_key_).status, 204u);
  auto events = EventsAfter(*store_, before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], wire::kEventRelayRevoked);
  EXPECT_EQ(events[0][std::string(wire::kEventRelayField)], "relay-1");
  EXPECT_EQ(events[0][std::string(wire::kEventUntilField)],
            FormatTime(Seconds(std::chrono::seconds(clock_.now + 168 * 3600))));
  EXPECT_EQ(Body(Call("GET", "/v1/relays/relay-1", op_key_))["state"], "revoked");
  EXPECT_EQ(Call("POST", "/v1/relays/relay-1/activations", op_key_, "{}").status, 409u);
}

TEST_F(ConnectorsRelaysApiTest, ConnectorLifecycleAndDeviceBundleCarriesIt) {
  TenantKeys acme = MakeTenant("acme");
  ASSERT_EQ(Call("POST", "/v1/relays", op_key_, kRelay1).status, 201u);
  Reply c = Call("POST", "/v1/tenants/acme/connectors", acme.admin, R"({"id":"dc-east","display_name":"East"})");
  ASSERT_EQ(c.status, 201u) << c.body;
  EXPECT_EQ(Body(c)["state"], "pending");
  EXPECT_TRUE(Body(c)["keys"].is_null());
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/connectors", acme.read_only, R"({"id":"x","display_name":"X"})").status,
            403u);
  Reply renamed = Call("PATCH", "/v1/tenants/acme/connectors/dc-east", acme.admin, R"({"display_name":"East DC"})");
  EXPECT_EQ(Body(renamed)["display_name"], "East DC");

  Reply act = Call("POST", "/v1/tenants/acme/activations", acme.admin, R"({"kind":"connector","connector":"dc-east"})");
  ASSERT_EQ(act.status, 201u) << act.body;
  EXPECT_EQ(Body(act)["connector"], "dc-east");
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/activations", acme.admin, R"({"kind":"connector","connector":"nope"})").status,
            409u);
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/activations", acme.admin, R"({"kind":"connector"})").status, 400u);
  const crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
  Reply r = Enrol(Client(), Body(act)["code"], "connector", signing);
  ASSERT_EQ(r.status, 200u) << r.body;
  nlohmann::json b = Body(r);
  EXPECT_EQ(b["kind"], "connector");
  EXPECT_EQ(b["tenant"], "acme");
  EXPECT_FALSE(b.contains(std::string(wire::kBundleConnectorsField)));
  EXPECT_FALSE(b.contains(std::string(wire::kBundlePolicyField)));
  EXPECT_EQ(b["relays"].size(), 0u);  // relay-1 is still pending: not in bundles
  auto v = crypto::VerifyCredential(*DecodeBase64(b["credential"].get<std::string>()), root_.public_key,
                                    static_cast<uint64_t>(clock_.now.load()),
                                    crypto::VerifyOptions{crypto::RoleSet{crypto::Role::kConnector}, "acme"});
  ASSERT_TRUE(v.ok()) << crypto::CredentialErrorName(v.error().code);
  EXPECT_EQ(v->not_after, static_cast<uint64_t>(clock_.now + 72 * 3600));
  nlohmann::json got = Body(Call("GET", "/v1/tenants/acme/connectors/dc-east", acme.read_only));
  EXPECT_EQ(got["state"], "active");
  EXPECT_EQ(got["keys"]["noise"], EncodeBase64(v->noise_key.bytes()));

  // A device bundle lists the active connector's Noise key.
  store::UserRecord u;
  u.id = GenerateId(IdKind::kUser);
  u.email = "a@example.com";
  u.display_name = "A";
  {
    auto tx = store_->Write();
    ASSERT_TRUE((*tx)->InsertUser(store::TenantScope("acme"), u).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  Reply dact = Call("POST", "/v1/tenants/acme/activations", acme.admin,
                    fmt::format(R"({{"kind":"device","user":"{}"}})", u.id));
  ASSERT_EQ(dact.status, 201u);
  {
    HttpsClient hc = Client();
    const auto e = hc.Exporter(kActivateExporterLabel);
    auto parsed = ActivationCode::Parse(Body(dact)["code"].get<std::string>());
    const crypto::Ed25519KeyPair ds = crypto::Ed25519KeyPair::Generate();
    const crypto::X25519KeyPair dn = crypto::X25519KeyPair::Generate();
    auto input = ActivateMacInput(e, parsed->id(), ActivationKind::kDevice, ds.public_key.bytes(),
                                  dn.public_key.bytes(), std::nullopt);
    nlohmann::json j = {{"activation", std::string(parsed->id())}, {"kind", "device"},
                        {"signing_key", EncodeBase64(ds.public_key.bytes())},
                        {"noise_key", EncodeBase64(dn.public_key.bytes())},
                        {"key_proof", EncodeBase64(ds.Sign(KeyProofInput(e)).bytes())},
                        {"mac", EncodeBase64(ActivateMac(DeriveActivationKey(*parsed), input))},
                        {"device", {{"os", "linux"}}}};
    Reply d = hc.Send("POST", "/v1/activate", j.dump(), {{"Content-Type", "application/json"}});
    ASSERT_EQ(d.status, 200u) << d.body;
    EXPECT_EQ(Body(d)["connectors"],
              nlohmann::json::array({{{"id", "dc-east"}, {"noise_key", EncodeBase64(v->noise_key.bytes())}}}));
  }

  const store::EventId before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/connectors/dc-east", acme.admin).status, 204u);
  auto events = EventsAfter(*store_, before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], wire::kEventConnectorRevoked);
  EXPECT_EQ(events[0]["tenant"], "acme");
  EXPECT_EQ(events[0]["connector"], "dc-east");
  EXPECT_EQ(events[0]["until"], FormatTime(Seconds(std::chrono::seconds(clock_.now + 72 * 3600))));
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/connectors/dc-east", acme.admin))["state"], "revoked");
  auto tx = store_->Read();
  auto denial = (*tx)->GetDenial(store::TenantScope("acme"), store::SubjectRole::kConnector, "dc-east");
  ASSERT_TRUE(denial.ok());
  EXPECT_TRUE(denial->has_value());
}

TEST_F(ConnectorsRelaysApiTest, ActivationListFiltersAndCancel) {
  TenantKeys acme = MakeTenant("acme");
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/connectors", acme.admin, R"({"id":"dc","display_name":"DC"})").status,
            201u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Call("POST", "/v1/tenants/acme/activations", acme.admin, R"({"kind":"connector","connector":"dc"})")
                  .status,
              201u);
  }
  Reply all = Call("GET", "/v1/tenants/acme/activations?kind=connector&state=pending&limit=2", acme.read_only);
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(Body(all)["items"].size(), 2u);
  EXPECT_FALSE(Body(all)["next_cursor"].is_null());
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/activations?state=nope", acme.admin).status, 400u);
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/activations", acme.admin,
                 R"({"kind":"connector","connector":"dc","expires_in_s":599})").status,
            400u);
  const std::string id = Body(all)["items"][0]["id"];
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/activations/" + id, acme.read_only).status, 403u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/activations/" + id, acme.admin).status, 204u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/activations/" + id, acme.admin))["state"], "cancelled");
}

}  // namespace
}  // namespace strait::control::testing
