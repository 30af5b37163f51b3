// Renewal through the real server (docs/control-plane.md §6.5): a device, a connector and a relay enrolled through
// POST /v1/activate renew with their credential and a proof over the connection's exporter, as the daemons'
// renewer does; the grace period and the two-newest rule for expired credentials, decided in the write transaction;
// the bounds on a subject's credentials rows and on its renewal rate; locked and revoked subjects; and that a
// machine renews only itself.
#include "tests/control-plane/api/api_fixture.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "control-plane/api/activation_code.h"
#include "control-plane/api/formats.h"
#include "crypto/credential.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::testing {
namespace {

namespace wire = strait::control::wire;

// One enrolled machine: its keys and the credential its last bundle carried.
struct Machine {
  std::string kind;  // "device", "connector", "relay"
  std::string tenant;
  std::string subject;
  crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
  crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  std::vector<uint8_t> spki;  // relay: its P-256 TLS key's SubjectPublicKeyInfo
  std::vector<uint8_t> credential;

  std::string RenewPath() const {
    if (kind == "relay") return "/v1/relays/" + subject + "/renew";
    return fmt::format("/v1/tenants/{}/{}s/{}/renew", tenant, kind, subject);
  }
};

std::vector<uint8_t> P256Spki() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  std::vector<uint8_t> out(der, der + (n > 0 ? n : 0));
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return out;
}

std::vector<uint8_t> CredentialOf(const nlohmann::json& bundle) {
  return DecodeBase64(bundle.value(std::string(wire::kBundleCredentialField), "")).value_or(std::vector<uint8_t>{});
}

int64_t TimeOf(const nlohmann::json& t) {
  auto parsed = ParseTime(t.is_string() ? t.get<std::string>() : "");
  return parsed ? parsed->time_since_epoch().count() : -1;
}

// The store with a gate in front of Write(): callers wait there until Open(), and WaitForWriters(n) returns once n
// of them do. A renewal held at the gate has passed the dispatcher's checks on its read snapshot, so two of them
// released together race exactly where only the write transaction can tell them apart.
class GatedStore : public store::Store {
 public:
  explicit GatedStore(store::Store* inner) : inner_(inner) {}
  store::StoreResult<std::unique_ptr<store::ReadTx>> Read() override { return inner_->Read(); }
  store::StoreResult<std::unique_ptr<store::WriteTx>> Write() override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    }
    return inner_->Write();
  }
  store::EventId LastEventId() const override { return inner_->LastEventId(); }

  bool WaitForWriters(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  store::Store* const inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;     // guarded by mu_
  bool open_ = false;   // guarded by mu_
};

class RenewApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    acme_ = MakeTenant("acme");
    store::UserRecord u;
    u.id = GenerateId(IdKind::kUser);
    u.email = "u@example.com";
    u.display_name = "User";
    auto tx = store_->Write();
    ASSERT_TRUE((*tx)->InsertUser(store::TenantScope("acme"), u).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
    user_ = u.id;
  }

  // Enrols a machine of `kind` through an activation code and POST /v1/activate.
  Machine Enrol(const std::string& kind, const std::string& id = "") {
    Machine m;
    m.kind = kind;
    Reply act;
    if (kind == "device") {
      m.tenant = "acme";
      act = Call("POST", "/v1/tenants/acme/activations", acme_.admin,
                 fmt::format(R"({{"kind":"device","user":"{}"}})", user_));
    } else if (kind == "connector") {
      m.tenant = "acme";
      EXPECT_EQ(Call("POST", "/v1/tenants/acme/connectors", acme_.admin,
                     fmt::format(R"({{"id":"{}","display_name":"DC"}})", id))
                    .status,
                201u);
      act = Call("POST", "/v1/tenants/acme/activations", acme_.admin,
                 fmt::format(R"({{"kind":"connector","connector":"{}"}})", id));
    } else {
      EXPECT_EQ(Call("POST", "/v1/relays", op_key_,
                     fmt::format(R"({{"id":"{}","display_name":"R","device_endpoint":"r.example.com:443",)"
                                 R"("connector_endpoint":"r.example.com:3101","tls_names":["r.example.com"]}})",
                                 id))
                    .status,
                201u);
      act = Call("POST", "/v1/relays/" + id + "/activations", op_key_, "{}");
      m.spki = P256Spki();
    }
    EXPECT_EQ(act.status, 201u) << act.body;
    auto code = ActivationCode::Parse(Body(act).value("code", ""));
    EXPECT_TRUE(code.has_value());
    if (!code) return m;
    HttpsClient c = Client();
    const auto e = c.Exporter(kActivateExporterLabel);
    const bool relay = kind == "relay";
    const ActivationKind ak = kind == "device"      ? ActivationKind::kDevice
                              : kind == "connector" ? ActivationKind::kConnector
                                                    : ActivationKind::kRelay;
    auto input = relay ? ActivateMacInput(e, code->id(), ak, m.signing.public_key.bytes(), std::nullopt,
                                          std::span<const uint8_t>(m.spki))
                       : ActivateMacInput(e, code->id(), ak, m.signing.public_key.bytes(),
                                          m.noise.public_key.bytes(), std::nullopt);
    nlohmann::json j = {{"activation", std::string(code->id())},
                        {"kind", kind},
                        {"signing_key", EncodeBase64(m.signing.public_key.bytes())},
                        {"key_proof", EncodeBase64(m.signing.Sign(KeyProofInput(e)).bytes())},
                        {"mac", EncodeBase64(ActivateMac(DeriveActivationKey(*code), input))}};
    if (relay) {
      j["tls_public_key"] = EncodeBase64(m.spki);
    } else {
      j["noise_key"] = EncodeBase64(m.noise.public_key.bytes());
    }
    if (kind == "device") j["device"] = {{"os", "linux"}, {"os_version", "6.1"}};
    Reply r = c.Send("POST", "/v1/activate", j.dump(), {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 200u) << r.body;
    m.subject = Body(r).value(std::string(wire::kBundleSubjectField), "");
    m.credential = CredentialOf(Body(r));
    return m;
  }

  // POST `path` as `m` on a fresh connection: Strait-Credential cred=..., proof=... over its exporter.
  Reply RenewAs(const Machine& m, const std::string& path, const std::string& body = "{}") {
    HttpsClient c = Client();
    const auto e = c.Exporter(wire::kControlExporterLabel);
    const std::string msg = wire::ControlProofMessage(m.kind, e);
    const auto proof = m.signing.Sign(std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
    const std::string auth = fmt::format("{} cred={}, proof={}", wire::kCredentialAuthScheme,
                                         EncodeBase64(m.credential), EncodeBase64(proof.bytes()));
    return c.Send("POST", path, body, {{"Authorization", auth}, {"Content-Type", "application/json"}});
  }
  Reply Renew(Machine& m, const std::string& body = "{}") {
    Reply r = RenewAs(m, m.RenewPath(), body);
    if (r.status == 200u) m.credential = CredentialOf(Body(r));
    return r;
  }

  // The subject's rows in the `credentials` table.
  size_t StoredCredentials(const Machine& m) {
    auto tx = store_->Read();
    EXPECT_TRUE(tx.ok());
    if (!tx.ok()) return 0;
    auto rows = m.kind == "relay" ? (*tx)->NewestRelayCredentials(m.subject, 1000)
                                  : (*tx)->NewestCredentials(store::TenantScope(m.tenant),
                                                             m.kind == "device" ? store::SubjectRole::kDevice
                                                                                : store::SubjectRole::kConnector,
                                                             m.subject, 1000);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  Result<crypto::VerifiedCredential, crypto::CredentialResultError> Verify(const Machine& m) const {
    return crypto::VerifyCredential(m.credential, root_.public_key, static_cast<uint64_t>(clock_.now.load()), {});
  }

  TenantKeys acme_;
  std::string user_;
};

TEST_F(RenewApiTest, ADeviceRenewsToAFreshBundleForTheSameKeys) {
  Machine dev = Enrol("device");
  ASSERT_FALSE(dev.credential.empty());
  const auto first = Verify(dev);
  ASSERT_TRUE(first.ok());
  clock_.now += 3600;

  Reply r = Renew(dev, R"({"os_version":"6.2"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  const nlohmann::json b = Body(r);
  EXPECT_EQ(b[std::string(wire::kBundleKindField)], "device");
  EXPECT_EQ(b[std::string(wire::kBundleTenantField)], "acme");
  EXPECT_EQ(b[std::string(wire::kBundleSubjectField)], dev.subject);
  EXPECT_EQ(b[std::string(wire::kBundleRootKeyField)], EncodeBase64(root_.public_key.bytes()));
  EXPECT_EQ(b[std::string(wire::kBundleCaPemField)], ca_pem_);
  EXPECT_TRUE(b[std::string(wire::kBundleConnectorsField)].is_array());
  EXPECT_TRUE(b.contains(std::string(wire::kBundlePolicyField)));
  const auto v = Verify(dev);
  ASSERT_TRUE(v.ok()) << crypto::CredentialErrorName(v.error().code);
  EXPECT_GT(v->serial, first->serial);
  EXPECT_EQ(v->subject_id, dev.subject);
  EXPECT_EQ(v->tenant_id, "acme");
  EXPECT_TRUE(v->key == dev.signing.public_key);
  EXPECT_TRUE(v->noise_key == dev.noise.public_key);
  EXPECT_EQ(static_cast<int64_t>(v->not_after), clock_.now + 24 * 3600);
  // renew_after is two thirds into the credential's life.
  const nlohmann::json& control = b[std::string(wire::kBundleControlField)];
  EXPECT_EQ(TimeOf(control[std::string(wire::kControlNotAfterField)]), static_cast<int64_t>(v->not_after));
  EXPECT_EQ(TimeOf(control[std::string(wire::kControlRenewAfterField)]),
            static_cast<int64_t>(v->not_before + (v->not_after - v->not_before) * 2 / 3));

  const nlohmann::json d = Body(Call("GET", "/v1/tenants/acme/devices/" + dev.subject, acme_.admin));
  EXPECT_EQ(d["os_version"], "6.2");
  EXPECT_EQ(TimeOf(d["last_renewed_at"]), clock_.now.load());
  EXPECT_EQ(d["credential"]["serial"], std::to_string(v->serial));
  const nlohmann::json audit = Body(Call("GET", "/v1/tenants/acme/audit?action=device.renew", acme_.admin));
  ASSERT_EQ(audit["items"].size(), 1u) << audit;
  EXPECT_EQ(audit["items"][0]["resource"]["id"], dev.subject);
  EXPECT_EQ(audit["items"][0]["actor"]["kind"], "device");
  EXPECT_EQ(audit["items"][0]["detail"]["serial"], std::to_string(v->serial));
}

TEST_F(RenewApiTest, AConnectorAndARelayRenew) {
  Machine conn = Enrol("connector", "dc-east");
  Machine relay = Enrol("relay", "relay-1");
  clock_.now += 3600;
  Reply c = Renew(conn);
  ASSERT_EQ(c.status, 200u) << c.body;
  EXPECT_EQ(Body(c)[std::string(wire::kBundleKindField)], "connector");
  EXPECT_FALSE(Body(c).contains(std::string(wire::kBundlePolicyField)));
  auto cv = Verify(conn);
  ASSERT_TRUE(cv.ok());
  EXPECT_EQ(static_cast<int64_t>(cv->not_after), clock_.now + 72 * 3600);

  Reply r = Renew(relay);
  ASSERT_EQ(r.status, 200u) << r.body;
  const nlohmann::json b = Body(r);
  EXPECT_EQ(b[std::string(wire::kBundleKindField)], "relay");
  EXPECT_FALSE(b.contains(std::string(wire::kBundleTenantField)));
  const std::string tls = b.value(std::string(wire::kBundleTlsCertField), "");
  EXPECT_NE(tls.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(tls.find(ca_pem_), std::string::npos);  // leaf + CA
  auto rv = Verify(relay);
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(rv->role, crypto::Role::kRelay);
  EXPECT_EQ(static_cast<int64_t>(rv->not_after), clock_.now + 168 * 3600);
  const nlohmann::json row = Body(Call("GET", "/v1/relays/relay-1", op_key_));
  EXPECT_EQ(row["credential"]["serial"], std::to_string(rv->serial)) << row;
}

TEST_F(RenewApiTest, AnExpiredCredentialRenewsWithinTheGraceOnlyIfAmongTheTwoNewest) {
  Machine dev = Enrol("device");
  const std::vector<uint8_t> oldest = dev.credential;
  clock_.now += 30 * 3600;  // past not_after (24 h), within renew_grace_hours (168 h)
  ASSERT_FALSE(Verify(dev).ok());
  ASSERT_EQ(Renew(dev).status, 200u);  // the newest: renews
  Machine copy = dev;
  copy.credential = oldest;
  ASSERT_EQ(Renew(dev).status, 200u);  // now `oldest` is the third newest
  Reply superseded = RenewAs(copy, copy.RenewPath());
  EXPECT_EQ(superseded.status, 401u) << superseded.body;
  EXPECT_EQ(ProblemName(superseded), "unauthenticated");
  EXPECT_EQ(Body(superseded)["reason"], "superseded");

  // Past the grace period even the newest is refused; an expired credential opens no other route.
  clock_.now += 24 * 3600 + 168 * 3600 + 1;
  Reply late = Renew(dev);
  EXPECT_EQ(late.status, 401u);
  EXPECT_EQ(Body(late)["reason"], "expired");
  Machine conn = Enrol("connector", "dc-east");
  clock_.now += 73 * 3600;
  HttpsClient c = Client();
  const auto e = c.Exporter(wire::kControlExporterLabel);
  const std::string msg = wire::ControlProofMessage("connector", e);
  const auto proof = conn.signing.Sign(std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  Reply get = c.Send("GET", "/v1/tenants/acme/connectors/dc-east/snapshot", {},
                     {{"Authorization", fmt::format("Strait-Credential cred={}, proof={}",
                                                    EncodeBase64(conn.credential), EncodeBase64(proof.bytes()))}});
  EXPECT_EQ(get.status, 401u) << get.body;
  EXPECT_EQ(Renew(conn).status, 200u);
}

TEST_F(RenewApiTest, LockedAndRevokedSubjectsAreRefused) {
  Machine dev = Enrol("device");
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dev.subject + "/lock", acme_.admin, "{}").status, 200u);
  Reply locked = Renew(dev);
  EXPECT_EQ(locked.status, 403u);
  EXPECT_EQ(ProblemName(locked), "device-locked");
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dev.subject + "/unlock", acme_.admin, "{}").status, 200u);
  EXPECT_EQ(Renew(dev).status, 200u);  // an unlock lets it back
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dev.subject + "/revoke", acme_.admin, "{}").status, 200u);
  Reply revoked = Renew(dev);
  EXPECT_EQ(revoked.status, 403u);
  EXPECT_EQ(ProblemName(revoked), "device-revoked");

  Machine conn = Enrol("connector", "dc-east");
  ASSERT_EQ(Call("DELETE", "/v1/tenants/acme/connectors/dc-east", acme_.admin).status, 204u);
  EXPECT_EQ(ProblemName(Renew(conn)), "connector-revoked");
  Machine relay = Enrol("relay", "relay-1");
  ASSERT_EQ(Call("DELETE", "/v1/relays/relay-1", op_key_).status, 204u);
  EXPECT_EQ(ProblemName(Renew(relay)), "relay-revoked");

  Machine other = Enrol("device");
  ASSERT_EQ(Call("PATCH", "/v1/tenants/acme", op_key_, R"({"state":"suspended"})").status, 200u);
  EXPECT_EQ(ProblemName(Renew(other)), "tenant-suspended");
}

TEST_F(RenewApiTest, AMachineRenewsOnlyItselfWithItsOwnBody) {
  Machine a = Enrol("device");
  Machine b = Enrol("device");
  Reply other = RenewAs(a, b.RenewPath());
  EXPECT_EQ(other.status, 403u);
  EXPECT_EQ(ProblemName(other), "forbidden");
  Machine conn = Enrol("connector", "dc-east");
  EXPECT_EQ(RenewAs(a, conn.RenewPath()).status, 403u);
  EXPECT_EQ(Call("POST", a.RenewPath(), acme_.admin, "{}").status, 403u);  // not even its admin
  EXPECT_EQ(Call("POST", a.RenewPath(), op_key_, "{}").status, 403u);
  Reply unknown = RenewAs(a, a.RenewPath(), R"({"signing_key":"AAAA"})");
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_EQ(ProblemName(unknown), "invalid-request");
  EXPECT_EQ(RenewAs(conn, conn.RenewPath(), R"({"os_version":"1"})").status, 400u);  // a device's field
  // A proof from another connection does not verify.
  HttpsClient c1 = Client();
  HttpsClient c2 = Client();
  const auto e1 = c1.Exporter(wire::kControlExporterLabel);
  (void)c2.Exporter(wire::kControlExporterLabel);
  const std::string msg = wire::ControlProofMessage("device", e1);
  const auto proof = a.signing.Sign(std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  Reply replayed = c2.Send("POST", a.RenewPath(), "{}",
                           {{"Authorization", fmt::format("Strait-Credential cred={}, proof={}",
                                                          EncodeBase64(a.credential), EncodeBase64(proof.bytes()))},
                            {"Content-Type", "application/json"}});
  EXPECT_EQ(replayed.status, 401u);
  EXPECT_EQ(Body(replayed)["reason"], "bad_proof");
}

TEST_F(RenewApiTest, ARenewedCredentialNeverOutlivesItsTenantCert) {
  services_.config.device_credential_hours = 24 * 365;  // longer than the 90-day TenantCert
  Machine dev = Enrol("device");
  clock_.now += 3600;
  Reply r = Renew(dev);
  ASSERT_EQ(r.status, 200u) << r.body;
  const int64_t cert_end = TimeOf(Body(Call("GET", "/v1/tenants/acme", op_key_))["tenant_cert_not_after"]);
  ASSERT_GT(cert_end, clock_.now.load());
  EXPECT_EQ(TimeOf(Body(r)[std::string(wire::kBundleControlField)][std::string(wire::kControlNotAfterField)]),
            cert_end);
  ASSERT_TRUE(Verify(dev).ok());
}

// Class 5 (a peer must not make a table grow without bound): renewing in a loop leaves at most two rows per subject,
// and the two kept are the two newest, so the two-newest rule reads the same answer as before.
TEST_F(RenewApiTest, RenewingInALoopKeepsTwoCredentialsPerSubject) {
  services_.config.min_renew_interval_s = 0;  // the row bound alone
  for (const std::string kind : {"device", "connector", "relay"}) {
    SCOPED_TRACE(kind);
    Machine m = Enrol(kind, kind == "connector" ? "dc-east" : kind == "relay" ? "relay-1" : "");
    std::vector<std::vector<uint8_t>> issued = {m.credential};
    EXPECT_EQ(StoredCredentials(m), 1u);
    for (int i = 0; i < 20; ++i) {
      Reply r = Renew(m);
      ASSERT_EQ(r.status, 200u) << r.body;
      issued.push_back(m.credential);
      EXPECT_LE(StoredCredentials(m), store::kCredentialsPerSubject);
    }
    EXPECT_EQ(StoredCredentials(m), 2u);
    const int64_t at = clock_.now;
    clock_.now += 169 * 3600;  // every one has expired (24 h, 72 h, 168 h); all within the 168 h grace
    Machine third = m, second = m;
    third.credential = issued[issued.size() - 3];
    second.credential = issued[issued.size() - 2];
    ASSERT_FALSE(Verify(second).ok());
    Reply superseded = RenewAs(third, third.RenewPath());
    EXPECT_EQ(superseded.status, 401u) << superseded.body;
    EXPECT_EQ(Body(superseded)["reason"], "superseded");
    // The older of the two kept (a renewal whose answer was lost) still renews within the grace.
    Reply ok = Renew(second);
    EXPECT_EQ(ok.status, 200u) << ok.body;
    EXPECT_EQ(StoredCredentials(m), 2u);
    clock_.now = at;
  }
}

// §6.5 rate bound: the renewal right after activation (strait ... renew after enrolling) and a retry after a lost
// answer pass; a renewal back to back is 429 renew-too-soon with Retry-After until the second newest is
// min_renew_interval_s (60 s by default) old. A lock or a revocation is told before it.
TEST_F(RenewApiTest, RenewingBackToBackIsRenewTooSoonWithRetryAfter) {
  ASSERT_EQ(services_.config.min_renew_interval_s, 60);
  Machine dev = Enrol("device");
  ASSERT_EQ(Renew(dev).status, 200u);  // right after the activation
  Reply soon = Renew(dev);
  EXPECT_EQ(soon.status, 429u) << soon.body;
  EXPECT_EQ(ProblemName(soon), "renew-too-soon");
  EXPECT_EQ(soon.Header("retry-after"), "60");
  EXPECT_FALSE(Body(soon).contains("retry_after"));
  EXPECT_EQ(StoredCredentials(dev), 2u);
  clock_.now += 59;
  EXPECT_EQ(Renew(dev).Header("retry-after"), "1");
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dev.subject + "/lock", acme_.admin, "{}").status, 200u);
  EXPECT_EQ(ProblemName(Renew(dev)), "device-locked");
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dev.subject + "/unlock", acme_.admin, "{}").status, 200u);
  clock_.now += 1;
  ASSERT_EQ(Renew(dev).status, 200u);

  // The renewer's case: renewed at two thirds of the life, the answer lost, retried at once with the old
  // credential: not refused (the second newest is the old one). A third at once is.
  Machine conn = Enrol("connector", "dc-east");
  clock_.now += 48 * 3600;
  Machine lost = conn;
  ASSERT_EQ(Renew(lost).status, 200u);
  ASSERT_EQ(Renew(conn).status, 200u);
  Reply third = Renew(conn);
  EXPECT_EQ(third.status, 429u);
  EXPECT_EQ(ProblemName(third), "renew-too-soon");
  EXPECT_EQ(third.Header("retry-after"), "60");
}

// The write transaction is the authority for the two-newest rule: two renewals with the second newest credential,
// expired, both pass the dispatcher's read (held at the writer's gate until both have), then race; the first makes
// it the third newest, so the second is 401 superseded and never gets a credential.
TEST_F(RenewApiTest, ConcurrentRenewalsWithAnExpiredCredentialDoNotBothSucceed) {
  Machine dev = Enrol("device");
  Machine older = dev;  // the activation's credential
  clock_.now += 3600;
  ASSERT_EQ(Renew(dev).status, 200u);
  clock_.now += 30 * 3600;  // both expired, within the grace; older is the second newest
  ASSERT_FALSE(Verify(older).ok());

  GatedStore gated(store_.get());
  services_.store = &gated;
  Reply replies[2];
  std::thread racers[2];
  for (int i = 0; i < 2; ++i) racers[i] = std::thread([&, i] { replies[i] = RenewAs(older, older.RenewPath()); });
  const bool both_waiting = gated.WaitForWriters(2);
  gated.Open();
  for (auto& t : racers) t.join();
  services_.store = store_.get();
  ASSERT_TRUE(both_waiting) << "the two renewals did not both reach the write transaction";

  int ok = 0, superseded = 0;
  for (const Reply& r : replies) {
    if (r.status == 200u) ok++;
    if (r.status == 401u && Body(r)["reason"] == "superseded") superseded++;
  }
  EXPECT_EQ(ok, 1) << replies[0].body << replies[1].body;
  EXPECT_EQ(superseded, 1) << replies[0].body << replies[1].body;
  EXPECT_EQ(StoredCredentials(dev), 2u);
}

}  // namespace
}  // namespace strait::control::testing
