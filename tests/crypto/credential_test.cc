#include "crypto/credential.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace strait::crypto {
namespace {

constexpr uint64_t kNow = 1'700'000'000;
constexpr uint64_t kDay = 86'400;

using Bytes = std::vector<uint8_t>;

// Re-signs a credential after a test edited it, so the edit reaches the check under test instead of stopping at
// the signature: body || Sign(key, "strait/credential/1" || 0x00 || body).
Bytes Resign(Bytes b, const Ed25519KeyPair& key) {
  const size_t body = b.size() - 64;
  Bytes msg(kCredentialContext.begin(), kCredentialContext.end());
  msg.push_back(0);
  msg.insert(msg.end(), b.begin(), b.begin() + static_cast<ptrdiff_t>(body));
  const Ed25519Signature sig = key.Sign(msg);
  std::copy(sig.bytes().begin(), sig.bytes().end(), b.begin() + static_cast<ptrdiff_t>(body));
  return b;
}

// One operator, one tenant "acme", and a credential of each role, valid for a day around kNow.
struct Chain {
  Ed25519KeyPair root = Ed25519KeyPair::Generate();
  Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  Ed25519KeyPair device_key = Ed25519KeyPair::Generate();
  Ed25519KeyPair connector_key = Ed25519KeyPair::Generate();
  Ed25519KeyPair relay_key = Ed25519KeyPair::Generate();
  Bytes tenant_cert;
  Bytes device;
  Bytes connector;
  Bytes relay;

  Chain() {
    tenant_cert = IssueTenantCert(root, {"acme", tenant.public_key, kNow - 10 * kDay, kNow + 10 * kDay}).value();
    device = Issue(Role::kDevice, "phone-1", device_key, kNow - kDay, kNow + kDay);
    connector = Issue(Role::kConnector, "dc-east.a_1", connector_key, kNow - kDay, kNow + kDay);
    CredentialParams p{Role::kRelay, "relay-1", relay_key.public_key, {}, 7, kNow - kDay, kNow + kDay};
    relay = IssueRelayCredential(root, p).value();
  }
  Bytes Issue(Role role, std::string_view subject, const Ed25519KeyPair& key, uint64_t nb, uint64_t na) const {
    CredentialParams p{role, subject, key.public_key, X25519KeyPair::Generate().public_key, 42, nb, na};
    return IssueCredential(tenant, tenant_cert, p).value();
  }
};

const Chain& TheChain() {
  static const Chain* c = new Chain();
  return *c;
}

TEST(Credential, VerifiesEachRole) {
  const Chain& c = TheChain();
  struct Case {
    const Bytes* bytes;
    Role role;
    std::string tenant;
    std::string subject;
    const Ed25519KeyPair* key;
  };
  const Case cases[] = {
      {&c.device, Role::kDevice, "acme", "phone-1", &c.device_key},
      {&c.connector, Role::kConnector, "acme", "dc-east.a_1", &c.connector_key},
      {&c.relay, Role::kRelay, "", "relay-1", &c.relay_key},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(RoleName(tc.role));
    EXPECT_LE(tc.bytes->size(), kMaxCredentialSize);
    auto v = VerifyCredential(*tc.bytes, c.root.public_key, kNow, VerifyOptions{{tc.role}, std::nullopt});
    ASSERT_TRUE(v.ok()) << v.error().reason;
    EXPECT_EQ(v->role, tc.role);
    EXPECT_EQ(v->tenant_id, tc.tenant);
    EXPECT_EQ(v->subject_id, tc.subject);
    EXPECT_EQ(v->key, tc.key->public_key);
    EXPECT_EQ(v->noise_key.IsZero(), tc.role == Role::kRelay);
    EXPECT_EQ(v->not_after, kNow + kDay);
    EXPECT_EQ(v->tenant_key, tc.role == Role::kRelay ? c.root.public_key : c.tenant.public_key);
  }
}

TEST(Credential, ValidityIsInclusiveAtBothEnds) {
  const Chain& c = TheChain();
  EXPECT_TRUE(VerifyCredential(c.device, c.root.public_key, kNow - kDay, {}).ok());
  EXPECT_TRUE(VerifyCredential(c.device, c.root.public_key, kNow + kDay, {}).ok());
}

TEST(Credential, ExpectedTenantMatches) {
  const Chain& c = TheChain();
  EXPECT_TRUE(VerifyCredential(c.device, c.root.public_key, kNow, {RoleSet::Any(), "acme"}).ok());
}

TEST(Credential, ParseThenSerializeRoundTrips) {
  const Chain& c = TheChain();
  for (const Bytes* b : {&c.device, &c.connector, &c.relay}) {
    auto v = ParseCredential(*b);
    ASSERT_TRUE(v.ok()) << v.error().reason;
    EXPECT_EQ(SerializeCredential(*v), *b);
  }
  auto tc = ParseTenantCert(c.tenant_cert);
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(SerializeTenantCert(*tc), c.tenant_cert);
  EXPECT_EQ(tc->tenant_id, "acme");
}

// Every way a presented credential is refused, one row each.
struct RejectCase {
  std::string name;
  std::function<Bytes(const Chain&)> make;
  CredentialError want;
  uint64_t now = kNow;
  VerifyOptions options = {};
};

std::vector<RejectCase> RejectCases() {
  const Ed25519KeyPair other = Ed25519KeyPair::Generate();  // a key nobody trusts
  auto edited = [](const Bytes& base, const std::function<void(CredentialView&)>& edit,
                   const Ed25519KeyPair& signer) {
    CredentialView v = ParseCredential(base).value();
    edit(v);
    return Resign(SerializeCredential(v), signer);
  };
  static const std::string kUpper = "Phone";
  static const std::string kOtherTenant = "other";
  return {
      {"expired", [](const Chain& c) { return c.device; }, CredentialError::kExpired, kNow + kDay + 1},
      {"not_yet_valid", [](const Chain& c) { return c.device; }, CredentialError::kNotYetValid, kNow - kDay - 1},
      {"tenant_cert_expired", [](const Chain& c) { return c.device; }, CredentialError::kTenantCertExpired,
       kNow + 10 * kDay + 1},
      {"tenant_cert_not_yet_valid", [](const Chain& c) { return c.device; },
       CredentialError::kTenantCertNotYetValid, kNow - 10 * kDay - 1},
      {"forged_signature",
       [edited, other](const Chain& c) { return edited(c.device, [](CredentialView&) {}, other); },
       CredentialError::kCredentialBadSignature},
      {"relay_signed_by_non_root",
       [edited, other](const Chain& c) { return edited(c.relay, [](CredentialView&) {}, other); },
       CredentialError::kCredentialBadSignature},
      {"relay_signed_by_tenant_key",
       [edited](const Chain& c) { return edited(c.relay, [](CredentialView&) {}, c.tenant); },
       CredentialError::kCredentialBadSignature},
      {"tenant_cert_from_other_root",
       [](const Chain& c) {
         const Ed25519KeyPair other_root = Ed25519KeyPair::Generate();
         const Bytes tc =
             IssueTenantCert(other_root, {"acme", c.tenant.public_key, kNow - kDay, kNow + kDay}).value();
         CredentialParams p{Role::kDevice, "phone-1", c.device_key.public_key,
                            X25519KeyPair::Generate().public_key, 1, kNow - kDay, kNow + kDay};
         return IssueCredential(c.tenant, tc, p).value();
       },
       CredentialError::kTenantCertBadSignature},
      {"outlives_tenant_cert",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.not_after = kNow + 11 * kDay; }, c.tenant);
       },
       CredentialError::kOutlivesTenantCert},
      {"starts_before_tenant_cert",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.not_before = kNow - 11 * kDay; }, c.tenant);
       },
       CredentialError::kOutlivesTenantCert},
      {"wrong_role", [](const Chain& c) { return c.device; }, CredentialError::kWrongRole, kNow,
       VerifyOptions{{Role::kConnector}, std::nullopt}},
      {"relay_on_device_port", [](const Chain& c) { return c.relay; }, CredentialError::kWrongRole, kNow,
       VerifyOptions{{Role::kDevice, Role::kConnector}, std::nullopt}},
      {"wrong_tenant", [](const Chain& c) { return c.device; }, CredentialError::kWrongTenant, kNow,
       VerifyOptions{RoleSet::Any(), "globex"}},
      {"relay_has_no_tenant", [](const Chain& c) { return c.relay; }, CredentialError::kWrongTenant, kNow,
       VerifyOptions{RoleSet::Any(), "acme"}},
      {"truncated", [](const Chain& c) { return Bytes(c.device.begin(), c.device.end() - 1); },
       CredentialError::kMalformed},
      {"empty", [](const Chain&) { return Bytes{}; }, CredentialError::kMalformed},
      {"trailing_bytes",
       [](const Chain& c) {
         Bytes b = c.device;
         b.push_back(0);
         return b;
       },
       CredentialError::kMalformed},
      {"oversize", [](const Chain&) { return Bytes(kMaxCredentialSize + 1, 1); }, CredentialError::kTooLarge},
      {"unsupported_version",
       [](const Chain& c) {
         Bytes b = c.device;
         b[0] = 2;
         return b;
       },
       CredentialError::kUnsupportedVersion},
      {"unknown_role",
       [](const Chain& c) {
         Bytes b = c.device;
         b[1] = 9;
         return b;
       },
       CredentialError::kUnknownRole},
      {"bad_subject_id",
       [edited](const Chain& c) { return edited(c.device, [](CredentialView& v) { v.subject_id = kUpper; }, c.tenant); },
       CredentialError::kBadId},
      {"empty_subject_id",
       [edited](const Chain& c) { return edited(c.device, [](CredentialView& v) { v.subject_id = {}; }, c.tenant); },
       CredentialError::kBadId},
      {"bad_validity_order",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { std::swap(v.not_before, v.not_after); }, c.tenant);
       },
       CredentialError::kBadValidity},
      {"relay_with_tenant_cert",
       [edited](const Chain& c) {
         return edited(c.relay, [&c](CredentialView& v) { v.tenant_cert_bytes = c.tenant_cert; }, c.root);
       },
       CredentialError::kRelayWithTenantCert},
      {"relay_with_tenant_id",
       [edited](const Chain& c) {
         static const std::string kAcme = "acme";
         return edited(c.relay, [](CredentialView& v) { v.tenant_id = kAcme; }, c.root);
       },
       CredentialError::kRelayWithTenantCert},
      {"relay_with_noise_key",
       [edited](const Chain& c) {
         return edited(c.relay, [](CredentialView& v) { v.noise_key.mutable_bytes()[0] = 1; }, c.root);
       },
       CredentialError::kRelayWithNoiseKey},
      {"device_without_tenant_cert",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.tenant_cert_bytes = {}; }, c.tenant);
       },
       CredentialError::kMissingTenantCert},
      {"device_without_noise_key",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.noise_key = X25519PublicKey(); }, c.tenant);
       },
       CredentialError::kMissingNoiseKey},
      {"tenant_id_differs_from_tenant_cert",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.tenant_id = kOtherTenant; }, c.tenant);
       },
       CredentialError::kTenantMismatch},
      {"device_claims_relay_role",
       [edited](const Chain& c) {
         return edited(c.device, [](CredentialView& v) { v.role = Role::kRelay; }, c.root);
       },
       CredentialError::kRelayWithTenantCert},
  };
}

TEST(Credential, RejectsEachFailureWithItsOwnCode) {
  const Chain& c = TheChain();
  for (const RejectCase& tc : RejectCases()) {
    SCOPED_TRACE(tc.name);
    const Bytes b = tc.make(c);
    auto v = VerifyCredential(b, c.root.public_key, tc.now, tc.options);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(CredentialErrorName(v.error().code), CredentialErrorName(tc.want)) << v.error().reason;
    EXPECT_FALSE(v.error().reason.empty());
  }
}

TEST(Credential, RejectsTamperedByteAtEveryOffset) {
  const Chain& c = TheChain();
  for (const Bytes* base : {&c.device, &c.connector, &c.relay}) {
    for (size_t i = 0; i < base->size(); ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes b = *base;
        b[i] ^= flip;
        auto v = VerifyCredential(b, c.root.public_key, kNow, {});
        EXPECT_FALSE(v.ok()) << "offset " << i << " flip " << int{flip};
      }
    }
  }
}

TEST(Credential, RejectsEveryTruncation) {
  const Chain& c = TheChain();
  for (size_t n = 0; n < c.device.size(); ++n) {
    auto v = VerifyCredential(std::span(c.device).first(n), c.root.public_key, kNow, {});
    EXPECT_FALSE(v.ok()) << n;
  }
}

TEST(Credential, ErrorNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(CredentialError::kIssuerKeyMismatch); ++e) {
    const std::string_view n = CredentialErrorName(static_cast<CredentialError>(e));
    EXPECT_NE(n, "unknown");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

TEST(CredentialIssue, RejectsBadInputs) {
  const Chain& c = TheChain();
  const X25519PublicKey noise = X25519KeyPair::Generate().public_key;
  const Ed25519PublicKey k = c.device_key.public_key;
  struct Case {
    std::string name;
    std::function<CredentialError()> run;
    CredentialError want;
  };
  auto code = [](const auto& r) { return r.ok() ? CredentialError::kMalformed : r.error().code; };
  const Case cases[] = {
      {"tenant_id_uppercase",
       [&] { return code(IssueTenantCert(c.root, {"Acme", c.tenant.public_key, kNow, kNow + 1})); },
       CredentialError::kBadId},
      {"tenant_id_too_long",
       [&] { return code(IssueTenantCert(c.root, {std::string(65, 'a'), c.tenant.public_key, kNow, kNow})); },
       CredentialError::kBadId},
      {"tenant_id_with_dot",
       [&] { return code(IssueTenantCert(c.root, {"ac.me", c.tenant.public_key, kNow, kNow})); },
       CredentialError::kBadId},
      {"tenant_validity_order",
       [&] { return code(IssueTenantCert(c.root, {"acme", c.tenant.public_key, kNow + 1, kNow})); },
       CredentialError::kBadValidity},
      {"subject_bad_char",
       [&] {
         return code(IssueCredential(c.tenant, c.tenant_cert, {Role::kDevice, "a b", k, noise, 1, kNow, kNow}));
       },
       CredentialError::kBadId},
      {"signer_not_certified",
       [&] {
         return code(IssueCredential(c.device_key, c.tenant_cert, {Role::kDevice, "a", k, noise, 1, kNow, kNow}));
       },
       CredentialError::kIssuerKeyMismatch},
      {"outlives_tenant_cert",
       [&] {
         return code(IssueCredential(c.tenant, c.tenant_cert,
                                     {Role::kDevice, "a", k, noise, 1, kNow, kNow + 100 * kDay}));
       },
       CredentialError::kOutlivesTenantCert},
      {"tenant_issues_relay",
       [&] {
         return code(IssueCredential(c.tenant, c.tenant_cert, {Role::kRelay, "a", k, noise, 1, kNow, kNow}));
       },
       CredentialError::kWrongRole},
      {"device_without_noise_key",
       [&] { return code(IssueCredential(c.tenant, c.tenant_cert, {Role::kDevice, "a", k, {}, 1, kNow, kNow})); },
       CredentialError::kMissingNoiseKey},
      {"relay_with_noise_key",
       [&] { return code(IssueRelayCredential(c.root, {Role::kRelay, "r", k, noise, 1, kNow, kNow})); },
       CredentialError::kRelayWithNoiseKey},
      {"root_issues_device",
       [&] { return code(IssueRelayCredential(c.root, {Role::kDevice, "r", k, {}, 1, kNow, kNow})); },
       CredentialError::kWrongRole},
      {"garbage_tenant_cert",
       [&] {
         const Bytes junk = {1, 2, 3};
         return code(IssueCredential(c.tenant, junk, {Role::kDevice, "a", k, noise, 1, kNow, kNow}));
       },
       CredentialError::kMalformed},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    EXPECT_EQ(CredentialErrorName(tc.run()), CredentialErrorName(tc.want));
  }
}

TEST(CredentialIssue, LongestIdsFitTheSizeBound) {
  const Ed25519KeyPair root = Ed25519KeyPair::Generate();
  const Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  const std::string tenant_id(kMaxIdLength, 't');
  const std::string subject(kMaxIdLength, 's');
  const Bytes tc = IssueTenantCert(root, {tenant_id, tenant.public_key, kNow, kNow + kDay}).value();
  EXPECT_EQ(tc.size(), kMaxTenantCertSize);
  auto cred = IssueCredential(tenant, tc,
                              {Role::kConnector, subject, tenant.public_key, X25519KeyPair::Generate().public_key,
                               UINT64_MAX, kNow, kNow + kDay});
  ASSERT_TRUE(cred.ok()) << cred.error().reason;
  EXPECT_EQ(cred->size(), kCredentialFixedSize + 2 * kMaxIdLength + kMaxTenantCertSize);
  EXPECT_TRUE(VerifyCredential(*cred, root.public_key, kNow, {}).ok());
}

}  // namespace
}  // namespace strait::crypto
