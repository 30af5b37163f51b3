// Bundles (tunnel/control/bundle.h): a Bundle made with the real issuing functions decodes, is checked against
// its root, the clock and the local keys, and becomes an identity directory that crypto::LoadIdentityBundle and
// crypto::CheckOwnCredential accept; bad bundles are refused before anything is written; renewal keeps the root.
#include "tunnel/control/bundle.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "crypto/x509_issue.h"
#include "tests/testing/temp_dir.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

using nlohmann::json;
constexpr uint64_t kNow = 1'750'000'000;
constexpr uint64_t kHour = 3'600;
constexpr uint64_t kDay = 86'400;

std::string B64(std::span<const uint8_t> b) {
  std::string out(sodium_base64_ENCODED_LEN(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// An operator root, a tenant "acme", a TLS CA, and the local keys of one subject.
struct Operator {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  std::vector<uint8_t> tenant_cert;
  crypto::PemCertificate ca;
  Operator() {
    tenant_cert =
        crypto::IssueTenantCert(root, {"acme", tenant.public_key, kNow - 10 * kDay, kNow + 90 * kDay}).value();
    ca = crypto::GenerateCa({}).value();
  }
  std::vector<uint8_t> Credential(crypto::Role role, std::string_view subject, const crypto::Ed25519KeyPair& key,
                                  const crypto::X25519PublicKey& noise, uint64_t serial = 1,
                                  uint64_t not_after = kNow + kDay) const {
    crypto::CredentialParams p{role, subject, key.public_key, noise, serial, kNow - kHour, not_after};
    if (role == crypto::Role::kRelay) return crypto::IssueRelayCredential(root, p).value();
    return crypto::IssueCredential(tenant, tenant_cert, p).value();
  }
};

struct Local {
  crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
  crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  LocalKeys Keys() const {
    LocalKeys k;
    k.signing_key = signing;
    k.noise_key = noise;
    return k;
  }
};

json Control() {
  return {{"url", "https://cp.example.com:8443"},
          {"renew_after", wire::FormatTime(kNow + 8 * kHour)},
          {"not_after", wire::FormatTime(kNow + kDay)}};
}

json Relays() {
  return json::array({{{"id", "relay-1"}, {"device", "relay1.example.com:443"}, {"connector", "relay1.example.com:3101"}},
                      {{"id", "relay-2"}, {"device", "[2001:db8::1]:443"}, {"connector", "203.0.113.7:3101"}}});
}

struct BundleTest : ::testing::Test {
  Operator op;
  Local local;
  crypto::X25519PublicKey conn_a = crypto::X25519KeyPair::Generate().public_key;
  crypto::X25519PublicKey conn_b = crypto::X25519KeyPair::Generate().public_key;
  strait::testing::TempDir tmp{"strait-bundle"};

  std::string Dir() const { return tmp.File("id"); }

  json DeviceJson(std::string_view subject = "d-7k3m9x2p4q7tab5c", uint64_t serial = 1) const {
    const auto cred = op.Credential(crypto::Role::kDevice, subject, local.signing, local.noise.public_key, serial);
    return {{"version", 1},
            {"kind", "device"},
            {"tenant", "acme"},
            {"subject", subject},
            {"credential", B64(cred)},
            {"root_public_key", B64(op.root.public_key.bytes())},
            {"ca_pem", op.ca.cert_pem},
            {"relays", Relays()},
            {"connectors", json::array({{{"id", "dc-east"}, {"noise_key", B64(conn_a.bytes())}},
                                        {{"id", "dc.west_2"}, {"noise_key", B64(conn_b.bytes())}}})},
            {"policy", {{"id", "p-abc"}, {"version", 3}, {"app", {{"allow", json::array()}}}}},
            {"control", Control()},
            {"a_field_from_a_newer_server", {{"x", 1}}}};
  }

  Bundle Decode(const json& j) const {
    auto b = DecodeBundle(j.dump());
    EXPECT_TRUE(b.ok()) << b.error().reason;
    return std::move(b).value();
  }
};

// --- Decoding ---

TEST_F(BundleTest, DecodesADeviceBundleAndIgnoresUnknownFields) {
  const Bundle b = Decode(DeviceJson());
  EXPECT_EQ(b.kind, crypto::Role::kDevice);
  EXPECT_EQ(b.tenant, "acme");
  EXPECT_EQ(b.subject, "d-7k3m9x2p4q7tab5c");
  EXPECT_EQ(b.root_public_key, op.root.public_key);
  ASSERT_EQ(b.relays.size(), 2u);
  EXPECT_EQ(b.relays[1].device, "[2001:db8::1]:443");
  ASSERT_EQ(b.connectors.size(), 2u);
  EXPECT_EQ(b.connectors[1].id, "dc.west_2");
  EXPECT_EQ(b.connectors[1].noise_key, conn_b);
  ASSERT_TRUE(b.policy_json.has_value());
  EXPECT_EQ(json::parse(*b.policy_json)["version"], 3);
  EXPECT_EQ(b.url, "https://cp.example.com:8443");
  EXPECT_EQ(b.renew_after, kNow + 8 * kHour);
  EXPECT_EQ(b.not_after, kNow + kDay);
}

TEST_F(BundleTest, DecodeRefusesBadFieldsNamingThem) {
  struct Case {
    std::string name;
    std::function<void(json&)> edit;
    WireError code;
    std::string pointer;
  };
  const std::vector<Case> cases = {
      {"version 2", [](json& j) { j["version"] = 2; }, WireError::kUnsupportedVersion, "/version"},
      {"no version", [](json& j) { j.erase("version"); }, WireError::kMissingField, "/version"},
      {"kind", [](json& j) { j["kind"] = "toaster"; }, WireError::kBadValue, "/kind"},
      {"tenant syntax", [](json& j) { j["tenant"] = "Acme"; }, WireError::kBadValue, "/tenant"},
      {"no tenant", [](json& j) { j.erase("tenant"); }, WireError::kMissingField, "/tenant"},
      {"subject path", [](json& j) { j["subject"] = "../etc"; }, WireError::kBadValue, "/subject"},
      {"credential base64", [](json& j) { j["credential"] = "AQE"; }, WireError::kBadValue, "/credential"},
      {"credential bytes", [](json& j) { j["credential"] = "AQEB"; }, WireError::kBadValue, "/credential"},
      {"credential type", [](json& j) { j["credential"] = 5; }, WireError::kWrongType, "/credential"},
      {"root length", [](json& j) { j["root_public_key"] = B64(std::vector<uint8_t>(31, 1)); }, WireError::kBadValue,
       "/root_public_key"},
      {"root zero", [](json& j) { j["root_public_key"] = B64(std::vector<uint8_t>(32, 0)); }, WireError::kBadValue,
       "/root_public_key"},
      {"ca not a certificate", [](json& j) { j["ca_pem"] = "hello"; }, WireError::kBadValue, "/ca_pem"},
      {"no ca", [](json& j) { j.erase("ca_pem"); }, WireError::kMissingField, "/ca_pem"},
      {"endpoint port", [](json& j) { j["relays"][0]["device"] = "relay1.example.com"; }, WireError::kBadValue,
       "/relays/0/device"},
      {"endpoint port range", [](json& j) { j["relays"][1]["connector"] = "h:65536"; }, WireError::kBadValue,
       "/relays/1/connector"},
      {"duplicate relay", [](json& j) { j["relays"][1]["id"] = "relay-1"; }, WireError::kBadValue, "/relays/1/id"},
      {"relays not array", [](json& j) { j["relays"] = json::object(); }, WireError::kWrongType, "/relays"},
      {"connector id", [](json& j) { j["connectors"][0]["id"] = ".."; }, WireError::kBadValue, "/connectors/0/id"},
      {"connector slash", [](json& j) { j["connectors"][0]["id"] = "a/b"; }, WireError::kBadValue,
       "/connectors/0/id"},
      {"duplicate connector", [](json& j) { j["connectors"][1]["id"] = "dc-east"; }, WireError::kBadValue,
       "/connectors/1/id"},
      {"connector key zero", [](json& j) { j["connectors"][1]["noise_key"] = B64(std::vector<uint8_t>(32, 0)); },
       WireError::kBadValue, "/connectors/1/noise_key"},
      {"policy array", [](json& j) { j["policy"] = json::array(); }, WireError::kWrongType, "/policy"},
      {"no control", [](json& j) { j.erase("control"); }, WireError::kMissingField, "/control"},
      {"http url", [](json& j) { j["control"]["url"] = "http://cp:8443"; }, WireError::kBadValue, "/control/url"},
      {"time form", [](json& j) { j["control"]["not_after"] = "2025-06-02 12:00:00"; }, WireError::kBadValue,
       "/control/not_after"},
      {"renew after expiry",
       [](json& j) { j["control"]["renew_after"] = wire::FormatTime(kNow + 2 * kDay); }, WireError::kBadValue,
       "/control/renew_after"},
      {"top level", [](json& j) { j = json::array(); }, WireError::kNotObject, ""},
  };
  for (const Case& c : cases) {
    json j = DeviceJson();
    c.edit(j);
    auto b = DecodeBundle(j.dump());
    ASSERT_FALSE(b.ok()) << c.name;
    EXPECT_EQ(b.error().code, c.code) << c.name << ": " << b.error().reason;
    EXPECT_NE(b.error().reason.find(c.pointer), std::string::npos) << c.name << ": " << b.error().reason;
  }
  EXPECT_EQ(DecodeBundle("{").error().code, WireError::kMalformedJson);
  EXPECT_EQ(DecodeBundle(std::string(wire::kMaxBundleBytes + 1, ' ')).error().code, WireError::kTooLarge);
}

TEST_F(BundleTest, NullPolicyAndAbsentListsMeanNone) {
  json j = DeviceJson();
  j["policy"] = nullptr;
  j.erase("connectors");
  j.erase("relays");
  const Bundle b = Decode(j);
  EXPECT_FALSE(b.policy_json.has_value());
  EXPECT_TRUE(b.connectors.empty());
  EXPECT_TRUE(b.relays.empty());
}

// --- Writing ---

TEST_F(BundleTest, DeviceBundleBecomesADirectoryTheDaemonLoads) {
  const Bundle b = Decode(DeviceJson());
  auto w = WriteBundleFiles(Dir(), b, local.Keys(), WriteMode::kEnroll, kNow);
  ASSERT_TRUE(w.ok()) << w.error().reason;

  auto id = crypto::LoadIdentityBundle(Dir());
  ASSERT_TRUE(id.ok()) << id.error().reason;
  EXPECT_EQ(id->role, crypto::Role::kDevice);
  EXPECT_EQ(id->signing_key.public_key, local.signing.public_key);
  ASSERT_TRUE(id->noise_key.has_value());
  EXPECT_EQ(id->noise_key->public_key, local.noise.public_key);
  EXPECT_EQ(id->root_public_key, op.root.public_key);
  EXPECT_EQ(id->ca_pem, op.ca.cert_pem);
  const crypto::OwnCredentialCheck own = crypto::CheckOwnCredential(*id, crypto::Role::kDevice, kNow);
  EXPECT_TRUE(own.error.empty()) << own.error;

  EXPECT_EQ(ModeOf(Dir() + "/signing.key"), 0600u);
  EXPECT_EQ(ModeOf(Dir() + "/noise.key"), 0600u);
  EXPECT_EQ(crypto::LoadX25519PublicKey(Dir() + "/connectors/dc-east.pub").value(), conn_a);
  EXPECT_EQ(crypto::LoadX25519PublicKey(Dir() + "/connectors/dc.west_2.pub").value(), conn_b);
  const json policy = json::parse(crypto::ReadPublicFile(Dir() + "/policy.json").value());
  EXPECT_EQ(policy["id"], "p-abc");

  auto control = ReadControlFile(Dir());
  ASSERT_TRUE(control.ok()) << control.error().reason;
  ASSERT_TRUE(control->has_value());
  const ControlFile& c = **control;
  EXPECT_EQ(c.kind, crypto::Role::kDevice);
  EXPECT_EQ(c.tenant, "acme");
  EXPECT_EQ(c.subject, "d-7k3m9x2p4q7tab5c");
  EXPECT_EQ(c.url, "https://cp.example.com:8443");
  EXPECT_EQ(c.renew_after, kNow + 8 * kHour);
  EXPECT_EQ(c.not_after, kNow + kDay);
  EXPECT_EQ(c.relays, b.relays);
}

TEST_F(BundleTest, ConnectorBundleHasNoConnectorSetOrPolicy) {
  json j = DeviceJson("dc-east");
  j["kind"] = "connector";
  j["credential"] = B64(op.Credential(crypto::Role::kConnector, "dc-east", local.signing, local.noise.public_key));
  const Bundle b = Decode(j);
  EXPECT_TRUE(b.connectors.empty());  // a connector bundle's connectors and policy are not its business
  EXPECT_FALSE(b.policy_json.has_value());
  ASSERT_TRUE(WriteBundleFiles(Dir(), b, local.Keys(), WriteMode::kEnroll, kNow).ok());
  auto id = crypto::LoadIdentityBundle(Dir());
  ASSERT_TRUE(id.ok()) << id.error().reason;
  EXPECT_EQ(id->role, crypto::Role::kConnector);
  EXPECT_TRUE(crypto::CheckOwnCredential(*id, crypto::Role::kConnector, kNow).error.empty());
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/connectors"));
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/policy.json"));
  EXPECT_EQ(ReadControlFile(Dir()).value()->subject, "dc-east");
}

TEST_F(BundleTest, RelayBundleCarriesItsTlsCertificate) {
  crypto::LeafOptions leaf_options;
  leaf_options.dns_names = {"relay1.example.com"};
  auto leaf = crypto::IssueLeafCertificate(op.ca, leaf_options).value();
  json j = {{"version", 1},
            {"kind", "relay"},
            {"subject", "relay-1"},
            {"credential", B64(op.Credential(crypto::Role::kRelay, "relay-1", local.signing, {}))},
            {"root_public_key", B64(op.root.public_key.bytes())},
            {"tls_cert_pem", leaf.cert_pem + op.ca.cert_pem},
            {"relays", Relays()},
            {"control", Control()}};
  const Bundle b = Decode(j);
  LocalKeys keys;
  keys.signing_key = local.signing;
  keys.tls_key_pem = crypto::SecretText(leaf.key_pem);
  auto w = WriteBundleFiles(Dir(), b, std::move(keys), WriteMode::kEnroll, kNow);
  ASSERT_TRUE(w.ok()) << w.error().reason;
  auto id = crypto::LoadIdentityBundle(Dir());
  ASSERT_TRUE(id.ok()) << id.error().reason;
  EXPECT_EQ(id->role, crypto::Role::kRelay);
  EXPECT_EQ(id->tls_cert_pem, leaf.cert_pem + op.ca.cert_pem);
  EXPECT_EQ(id->tls_key_pem.view(), leaf.key_pem);
  EXPECT_EQ(ModeOf(Dir() + "/tls.key"), 0600u);
  EXPECT_TRUE(crypto::CheckOwnCredential(*id, crypto::Role::kRelay, kNow).error.empty());
  EXPECT_EQ(ReadControlFile(Dir()).value()->tenant, "");

  // A relay bundle naming a tenant is not a relay bundle.
  j["tenant"] = "acme";
  EXPECT_EQ(DecodeBundle(j.dump()).error().code, WireError::kBadValue);
  // And a relay needs its local TLS key.
  EXPECT_EQ(WriteBundleFiles(tmp.File("r2"), b, LocalKeys{local.signing, std::nullopt, {}}, WriteMode::kEnroll, kNow)
                .error()
                .code,
            BundleError::kKeyMismatch);
}

TEST_F(BundleTest, RefusesBadBundlesBeforeWritingAnything) {
  const Operator other;  // another root
  const Local stranger;
  struct Case {
    std::string name;
    json j;
    LocalKeys keys;
    BundleError code;
  };
  std::vector<Case> cases;
  {
    json j = DeviceJson();
    j["root_public_key"] = B64(other.root.public_key.bytes());
    cases.push_back({"another root", j, local.Keys(), BundleError::kCredentialRefused});
  }
  {
    json j = DeviceJson();
    j["credential"] = B64(op.Credential(crypto::Role::kDevice, "d-7k3m9x2p4q7tab5c", local.signing,
                                        local.noise.public_key, 1, kNow - 1));
    cases.push_back({"expired", j, local.Keys(), BundleError::kCredentialRefused});
  }
  {
    json j = DeviceJson();
    j["kind"] = "connector";
    cases.push_back({"kind is not the credential's role", j, local.Keys(), BundleError::kCredentialRefused});
  }
  {
    json j = DeviceJson();
    j["subject"] = "d-someoneelse";
    cases.push_back({"subject", j, local.Keys(), BundleError::kIdentityMismatch});
  }
  cases.push_back({"signing key", DeviceJson(), stranger.Keys(), BundleError::kKeyMismatch});
  {
    LocalKeys k = local.Keys();
    k.noise_key = stranger.noise;
    cases.push_back({"noise key", DeviceJson(), std::move(k), BundleError::kKeyMismatch});
  }
  {
    LocalKeys k = local.Keys();
    k.noise_key.reset();
    cases.push_back({"no noise key", DeviceJson(), std::move(k), BundleError::kKeyMismatch});
  }
  for (Case& c : cases) {
    const Bundle b = Decode(c.j);
    auto w = WriteBundleFiles(Dir(), b, std::move(c.keys), WriteMode::kEnroll, kNow);
    ASSERT_FALSE(w.ok()) << c.name;
    EXPECT_EQ(w.error().code, c.code) << c.name << ": " << w.error().reason;
    EXPECT_FALSE(std::filesystem::exists(Dir())) << c.name;
  }
}

TEST_F(BundleTest, EnrollRefusesAnExistingIdentity) {
  const Bundle b = Decode(DeviceJson());
  ASSERT_TRUE(WriteBundleFiles(Dir(), b, local.Keys(), WriteMode::kEnroll, kNow).ok());
  const std::string before = crypto::ReadPublicFile(Dir() + "/credential").value();
  auto again = WriteBundleFiles(Dir(), Decode(DeviceJson("d-7k3m9x2p4q7tab5c", 2)), local.Keys(),
                                WriteMode::kEnroll, kNow);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, BundleError::kFiles);
  EXPECT_EQ(crypto::ReadPublicFile(Dir() + "/credential").value(), before);

  // Our own files count too: a stray control.json alone stops an enrolment.
  const std::string fresh = tmp.File("fresh");
  ASSERT_TRUE(crypto::EnsureDirectory(fresh).ok());
  ASSERT_TRUE(crypto::WritePublicFile(fresh + "/control.json", "{}", crypto::Overwrite::kRefuse).ok());
  EXPECT_EQ(WriteBundleFiles(fresh, b, local.Keys(), WriteMode::kEnroll, kNow).error().code, BundleError::kFiles);
  EXPECT_FALSE(std::filesystem::exists(fresh + "/credential"));
}

TEST_F(BundleTest, RenewalReplacesFilesAndTheConnectorSet) {
  ASSERT_TRUE(WriteBundleFiles(Dir(), Decode(DeviceJson()), local.Keys(), WriteMode::kEnroll, kNow).ok());
  ASSERT_TRUE(crypto::WritePublicFile(Dir() + "/connectors/README", "not ours", crypto::Overwrite::kRefuse).ok());

  json j = DeviceJson("d-7k3m9x2p4q7tab5c", 2);
  j["connectors"].erase(0);  // dc-east left the tenant
  j["policy"] = nullptr;
  j["control"]["not_after"] = wire::FormatTime(kNow + 2 * kDay);
  auto keys = LoadLocalKeys(Dir());
  ASSERT_TRUE(keys.ok()) << keys.error().reason;
  auto w = WriteBundleFiles(Dir(), Decode(j), std::move(keys).value(), WriteMode::kRenew, kNow + kHour);
  ASSERT_TRUE(w.ok()) << w.error().reason;

  auto id = crypto::LoadIdentityBundle(Dir());
  ASSERT_TRUE(id.ok()) << id.error().reason;
  EXPECT_EQ(crypto::ParseCredential(id->credential)->serial, 2u);
  EXPECT_EQ(id->signing_key.public_key, local.signing.public_key);  // same keys
  EXPECT_EQ(ModeOf(Dir() + "/signing.key"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/connectors/dc-east.pub"));
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/connectors/dc.west_2.pub"));
  EXPECT_TRUE(std::filesystem::exists(Dir() + "/connectors/README"));  // not a key file of ours: left alone
  EXPECT_FALSE(std::filesystem::exists(Dir() + "/policy.json"));
  EXPECT_EQ(ReadControlFile(Dir()).value()->not_after, kNow + 2 * kDay);
}

TEST_F(BundleTest, RenewalRefusesAnotherRootOrAnotherIdentity) {
  ASSERT_TRUE(WriteBundleFiles(Dir(), Decode(DeviceJson()), local.Keys(), WriteMode::kEnroll, kNow).ok());
  const std::string before = crypto::ReadPublicFile(Dir() + "/credential").value();

  // A bundle that verifies under its own, different root: a renewal must not move the trust anchor.
  Operator other;
  json j = DeviceJson();
  j["credential"] = B64(other.Credential(crypto::Role::kDevice, "d-7k3m9x2p4q7tab5c", local.signing,
                                         local.noise.public_key, 2));
  j["root_public_key"] = B64(other.root.public_key.bytes());
  auto w = WriteBundleFiles(Dir(), Decode(j), local.Keys(), WriteMode::kRenew, kNow);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, BundleError::kRootChanged) << w.error().reason;

  // The same root, but another subject's credential (the same keys: a confused server).
  auto w2 = WriteBundleFiles(Dir(), Decode(DeviceJson("d-other", 3)), local.Keys(), WriteMode::kRenew, kNow);
  ASSERT_FALSE(w2.ok());
  EXPECT_EQ(w2.error().code, BundleError::kIdentityMismatch) << w2.error().reason;

  EXPECT_EQ(crypto::ReadPublicFile(Dir() + "/credential").value(), before);
}

TEST_F(BundleTest, ControlFileAbsentOrDamaged) {
  ASSERT_TRUE(crypto::EnsureDirectory(Dir()).ok());
  auto none = ReadControlFile(Dir());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(crypto::WritePublicFile(Dir() + "/control.json", "{\"version\":1}", crypto::Overwrite::kRefuse).ok());
  auto bad = ReadControlFile(Dir());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, BundleError::kDecode);
  EXPECT_NE(bad.error().reason.find("/kind"), std::string::npos) << bad.error().reason;
}

TEST_F(BundleTest, ControlFileRoundTrip) {
  const Bundle b = Decode(DeviceJson());
  auto f = DecodeControlFile(EncodeControlFile(b));
  ASSERT_TRUE(f.ok()) << f.error().reason;
  EXPECT_EQ(f->kind, b.kind);
  EXPECT_EQ(f->tenant, b.tenant);
  EXPECT_EQ(f->subject, b.subject);
  EXPECT_EQ(f->url, b.url);
  EXPECT_EQ(f->renew_after, b.renew_after);
  EXPECT_EQ(f->not_after, b.not_after);
  EXPECT_EQ(f->relays, b.relays);
}

}  // namespace
}  // namespace strait::control
