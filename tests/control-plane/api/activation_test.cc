// POST /v1/activate through the real server (docs/control-plane.md §6.2, §10): a real HTTPS client computes the TLS
// exporter on the connection it then posts on, as `strait device activate` does.
#include <future>
#include <thread>

#include "tests/control-plane/api/api_fixture.h"

#include "control-plane/api/activation_code.h"
#include "control-plane/api/formats.h"
#include "crypto/credential.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::testing {
namespace {

namespace wire = strait::control::wire;

// A machine's side of one redeem: its keys, and the request it sends on one connection.
struct Enrollee {
  crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
  crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  std::string kind = "device";
  std::string os = "android";

  // The Redeem body for `code` over exporter `e`.
  std::string Body(const std::string& code, const std::array<uint8_t, 32>& e, bool bad_mac = false) const {
    auto parsed = ActivationCode::Parse(code);
    EXPECT_TRUE(parsed.has_value());
    const ActivationKey k = DeriveActivationKey(*parsed);
    const ActivationKind ak = kind == "device" ? ActivationKind::kDevice : ActivationKind::kConnector;
    auto input = ActivateMacInput(e, parsed->id(), ak, signing.public_key.bytes(), noise.public_key.bytes(),
                                  std::nullopt);
    Mac mac = ActivateMac(k, input);
    if (bad_mac) mac[0] ^= 1;
    const auto proof = signing.Sign(KeyProofInput(e));
    nlohmann::json j = {{"activation", std::string(parsed->id())},
                        {"kind", kind},
                        {"signing_key", EncodeBase64(signing.public_key.bytes())},
                        {"noise_key", EncodeBase64(noise.public_key.bytes())},
                        {"key_proof", EncodeBase64(proof.bytes())},
                        {"mac", EncodeBase64(mac)}};
    if (kind == "device") j["device"] = {{"os", os}, {"model", "Pixel 9"}};
    return j.dump();
  }
};

class ActivationTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    acme_ = MakeTenant("acme", 50);
    user_ = MakeUser("acme");
  }

  std::string MakeUser(const std::string& tenant) {
    store::UserRecord u;
    u.id = GenerateId(IdKind::kUser);
    u.email = u.id + "@example.com";
    u.display_name = "User";
    auto tx = store_->Write();
    EXPECT_TRUE((*tx)->InsertUser(store::TenantScope(tenant), u).ok());
    EXPECT_TRUE((*tx)->Commit().ok());
    return u.id;
  }

  // A device activation for user_; returns the code.
  std::string NewCode(const std::string& extra = "") {
    Reply r = Call("POST", "/v1/tenants/acme/activations", acme_.admin,
                   fmt::format(R"({{"kind":"device","user":"{}"{}}})", user_, extra));
    EXPECT_EQ(r.status, 201u) << r.body;
    return Body(r).value("code", "");
  }

  struct Redeemed {
    Reply reply;
    std::array<uint8_t, 32> e{};
  };
  // One redeem on a fresh connection: the exporter of that connection, then the POST on it.
  Redeemed Redeem(const Enrollee& who, const std::string& code, std::vector<std::pair<std::string, std::string>> h = {},
                  bool bad_mac = false) {
    HttpsClient c = Client();
    Redeemed out;
    out.e = c.Exporter(kActivateExporterLabel);
    h.emplace_back("Content-Type", "application/json");
    out.reply = c.Send("POST", "/v1/activate", who.Body(code, out.e, bad_mac), h);
    return out;
  }

  bool HeaderMacOk(const Redeemed& r, const std::string& code) {
    const ActivationKey k = DeriveActivationKey(*ActivationCode::Parse(code));
    return r.reply.Header("strait-activation-mac") == ActivatedMacHeader(k, r.e, r.reply.body);
  }

  TenantKeys acme_;
  std::string user_;
};

TEST_F(ActivationTest, RedeemIssuesAVerifiableCredentialAndAMacedBundle) {
  Reply created = Call("POST", "/v1/tenants/acme/activations", acme_.admin,
                       fmt::format(R"({{"kind":"device","user":"{}","os":"android","expires_in_s":3600}})", user_));
  ASSERT_EQ(created.status, 201u) << created.body;
  nlohmann::json a = Body(created);
  const std::string code = a["code"];
  ASSERT_EQ(code.size(), 29u);
  EXPECT_EQ(a["state"], "pending");
  EXPECT_EQ(a["qr"], "STRAIT1:" + code.substr(0, 4) + code.substr(5, 4) + code.substr(10, 4) + code.substr(15, 4) +
                         code.substr(20, 4) + code.substr(25, 4) + ":LOCALHOST:8443");
  EXPECT_EQ(a["url"], "https://localhost:8443");
  // The code is shown once: never in a list or a get.
  Reply list = Call("GET", "/v1/tenants/acme/activations", acme_.read_only);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.body.find(code.substr(10, 4)), std::string::npos);
  EXPECT_FALSE(Body(list)["items"][0].contains("code"));

  Enrollee dev;
  Redeemed r = Redeem(dev, code);
  ASSERT_EQ(r.reply.status, 200u) << r.reply.body;
  EXPECT_TRUE(HeaderMacOk(r, code));
  nlohmann::json b = Body(r.reply);
  std::printf("bundle as sent: %s\n", r.reply.body.c_str());
  EXPECT_EQ(b[std::string(wire::kBundleVersionField)], wire::kBundleVersion);
  EXPECT_EQ(b[std::string(wire::kBundleKindField)], "device");
  EXPECT_EQ(b[std::string(wire::kBundleTenantField)], "acme");
  EXPECT_EQ(b[std::string(wire::kBundleCaPemField)], ca_pem_);
  EXPECT_TRUE(b[std::string(wire::kBundleRelaysField)].is_array());
  EXPECT_TRUE(b[std::string(wire::kBundleConnectorsField)].is_array());
  EXPECT_TRUE(b[std::string(wire::kBundlePolicyField)].is_null());
  const nlohmann::json& control = b[std::string(wire::kBundleControlField)];
  EXPECT_EQ(control[std::string(wire::kControlUrlField)], "https://localhost:8443");
  auto cred = DecodeBase64(b[std::string(wire::kBundleCredentialField)].get<std::string>());
  ASSERT_TRUE(cred.has_value());
  auto root = DecodeBase64(b[std::string(wire::kBundleRootKeyField)].get<std::string>());
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE(std::equal(root->begin(), root->end(), root_.public_key.bytes().begin()));
  auto v = crypto::VerifyCredential(*cred, root_.public_key, static_cast<uint64_t>(clock_.now.load()),
                                    crypto::VerifyOptions{crypto::RoleSet{crypto::Role::kDevice}, "acme"});
  ASSERT_TRUE(v.ok()) << crypto::CredentialErrorName(v.error().code);
  EXPECT_EQ(v->subject_id, b[std::string(wire::kBundleSubjectField)].get<std::string>());
  EXPECT_TRUE(v->key == dev.signing.public_key);
  EXPECT_TRUE(v->noise_key == dev.noise.public_key);
  EXPECT_EQ(v->not_after, static_cast<uint64_t>(clock_.now + 24 * 3600));
  EXPECT_EQ(control[std::string(wire::kControlNotAfterField)],
            FormatTime(Seconds(std::chrono::seconds(clock_.now + 24 * 3600))));

  // The device, the used activation, the audit record.
  Reply got = Call("GET", "/v1/tenants/acme/activations/" + a["id"].get<std::string>(), acme_.admin);
  EXPECT_EQ(Body(got)["state"], "used");
  EXPECT_EQ(Body(got)["subject"], v->subject_id);
  Reply licence = Call("GET", "/v1/tenants/acme/licence", acme_.admin);
  EXPECT_EQ(Body(licence)["used"], 1);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=device.activate", acme_.admin);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  EXPECT_EQ(Body(audit)["items"].size(), 1u);

  // Reused -> 409 activation-used.
  Redeemed again = Redeem(Enrollee{}, code);
  EXPECT_EQ(again.reply.status, 409u) << again.reply.body;
  EXPECT_EQ(ProblemName(again.reply), "activation-used");
}

TEST_F(ActivationTest, ExpiredIs410AndCancelledIs401) {
  const std::string code = NewCode(R"(,"expires_in_s":600)");
  clock_.now += 601;
  Redeemed r = Redeem(Enrollee{}, code);
  EXPECT_EQ(r.reply.status, 410u) << r.reply.body;
  EXPECT_EQ(ProblemName(r.reply), "activation-expired");

  const std::string other = NewCode();
  const std::string id(ActivationCode::Parse(other)->id());
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/activations/" + id, acme_.admin).status, 204u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/activations/" + id, acme_.admin).status, 409u);
  Redeemed c = Redeem(Enrollee{}, other);
  EXPECT_EQ(c.reply.status, 401u);
  EXPECT_EQ(ProblemName(c.reply), "activation-invalid");
}

TEST_F(ActivationTest, OsMismatchIs422AndSuspendedTenantIs403) {
  const std::string code = NewCode(R"(,"os":"ios")");
  Enrollee dev;  // android
  Redeemed r = Redeem(dev, code);
  EXPECT_EQ(r.reply.status, 422u) << r.reply.body;
  EXPECT_EQ(ProblemName(r.reply), "activation-os-mismatch");
  EXPECT_EQ(Body(r.reply)["expected"], "ios");

  const std::string code2 = NewCode();
  ASSERT_EQ(Call("PATCH", "/v1/tenants/acme", op_key_, R"({"state":"suspended"})").status, 200u);
  Redeemed s = Redeem(dev, code2);
  EXPECT_EQ(s.reply.status, 403u);
  EXPECT_EQ(ProblemName(s.reply), "tenant-suspended");
}

TEST_F(ActivationTest, OverSeatsIs403WithSeatsAndUsed) {
  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/licence", op_key_, R"({"seats":1,"expires_at":null})").status, 200u);
  ASSERT_EQ(Redeem(Enrollee{}, NewCode()).reply.status, 200u);
  Redeemed r = Redeem(Enrollee{}, NewCode());
  EXPECT_EQ(r.reply.status, 403u) << r.reply.body;
  EXPECT_EQ(ProblemName(r.reply), "licence-exhausted");
  EXPECT_EQ(Body(r.reply)["seats"], 1);
  EXPECT_EQ(Body(r.reply)["used"], 1);

  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/licence", op_key_,
                 R"({"seats":5,"expires_at":"2026-01-01T00:00:00Z"})").status, 200u);
  Redeemed x = Redeem(Enrollee{}, NewCode());
  EXPECT_EQ(x.reply.status, 403u);
  EXPECT_EQ(ProblemName(x.reply), "licence-expired");
}

TEST_F(ActivationTest, TenWrongMacsBurnTheActivation) {
  const std::string code = NewCode();
  const std::string id(ActivationCode::Parse(code)->id());
  for (int i = 0; i < 10; ++i) {
    Redeemed r = Redeem(Enrollee{}, code, {}, /*bad_mac=*/true);
    EXPECT_EQ(r.reply.status, 401u);
    EXPECT_EQ(ProblemName(r.reply), "activation-invalid");
  }
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/activations/" + id, acme_.admin))["state"], "burned");
  Redeemed good = Redeem(Enrollee{}, code);  // the right MAC no longer helps
  EXPECT_EQ(good.reply.status, 401u);
  EXPECT_EQ(ProblemName(good.reply), "activation-invalid");
}

TEST_F(ActivationTest, AMacFromAnotherTlsSessionIsRefused) {
  const std::string code = NewCode();
  Enrollee dev;
  HttpsClient first = Client();
  const auto e1 = first.Exporter(kActivateExporterLabel);
  HttpsClient second = Client();
  const auto e2 = second.Exporter(kActivateExporterLabel);
  ASSERT_NE(e1, e2);
  // A man in the middle relays the body computed on its own session to the server on another.
  Reply r = second.Send("POST", "/v1/activate", dev.Body(code, e1), {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_EQ(ProblemName(r), "activation-invalid");
  Reply ok = first.Send("POST", "/v1/activate", dev.Body(code, e1), {{"Content-Type", "application/json"}});
  EXPECT_EQ(ok.status, 200u) << ok.body;
}

TEST_F(ActivationTest, AnIdempotentRetryReplaysWithAFreshMac) {
  const std::string code = NewCode();
  Enrollee dev;
  Redeemed first = Redeem(dev, code, {{"Idempotency-Key", "retry-1"}});
  ASSERT_EQ(first.reply.status, 200u) << first.reply.body;
  Redeemed retry = Redeem(dev, code, {{"Idempotency-Key", "retry-1"}});
  ASSERT_EQ(retry.reply.status, 200u) << retry.reply.body;
  EXPECT_EQ(retry.reply.Header("idempotency-replayed"), "true");
  EXPECT_EQ(Body(retry.reply), Body(first.reply));
  EXPECT_NE(retry.e, first.e);
  EXPECT_TRUE(HeaderMacOk(retry, code));
  EXPECT_NE(retry.reply.Header("strait-activation-mac"), first.reply.Header("strait-activation-mac"));
  // Without the key the same code is used.
  EXPECT_EQ(Redeem(dev, code).reply.status, 409u);
  // A retry with a wrong MAC gets nothing.
  EXPECT_EQ(Redeem(dev, code, {{"Idempotency-Key", "retry-1"}}, true).reply.status, 401u);
}

TEST_F(ActivationTest, ConcurrentRedeemsNeverPassTheSeats) {
  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/licence", op_key_, R"({"seats":50,"expires_at":null})").status, 200u);
  std::vector<std::string> codes;
  for (int i = 0; i < 64; ++i) codes.push_back(NewCode());
  std::vector<std::future<unsigned>> results;
  for (const std::string& code : codes) {
    results.push_back(std::async(std::launch::async, [this, code] { return Redeem(Enrollee{}, code).reply.status; }));
  }
  int ok = 0, exhausted = 0;
  for (auto& f : results) {
    const unsigned s = f.get();
    ok += s == 200u;
    exhausted += s == 403u;
  }
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(exhausted, 14);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/licence", acme_.admin))["used"], 50);
}

TEST_F(ActivationTest, RedeemIsRateLimitedPerAddress) {
  Stop();
  DispatcherOptions o = HighRates();
  o.activate_per_minute = 10;
  Start(o);
  // A burst of 10, then 10 a minute: the 11th and 12th at once find the bucket empty (a refill takes 6 s).
  std::vector<unsigned> statuses;
  for (int i = 0; i < 12; ++i) statuses.push_back(Client().Json("POST", "/v1/activate", "", "{}").status);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(statuses[static_cast<size_t>(i)], 400u) << i;
  EXPECT_TRUE(statuses[10] == 429u || statuses[11] == 429u);
  // Other routes are not held back by it.
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", acme_.admin).status, 200u);
}

TEST_F(ActivationTest, BadBodiesAndKeyProofAre400) {
  const std::string code = NewCode();
  Enrollee dev;
  HttpsClient c = Client();
  const auto e = c.Exporter(kActivateExporterLabel);
  nlohmann::json j = nlohmann::json::parse(dev.Body(code, e));
  j["key_proof"] = EncodeBase64(dev.signing.Sign(KeyProofInput(std::array<uint8_t, 32>{})).bytes());
  Reply r = c.Send("POST", "/v1/activate", j.dump(), {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(Body(r)["errors"][0]["pointer"], "/key_proof");
  j.erase("device");
  Reply missing = c.Send("POST", "/v1/activate", j.dump(), {{"Content-Type", "application/json"}});
  EXPECT_EQ(missing.status, 400u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/activations/" + std::string(ActivationCode::Parse(code)->id()),
                      acme_.admin))["state"],
            "pending");
}

}  // namespace
}  // namespace strait::control::testing
