#include "control-plane/handlers/issuer.h"

#include <algorithm>

#include <fmt/format.h>

#include "control-plane/handlers/common.h"
#include "crypto/credential.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

namespace wire = strait::control::wire;

Problem Internal(std::string detail) { return MakeProblem(ProblemType::kInternal, std::move(detail)); }

int Hours(const ServiceConfig& c, store::SubjectRole role) {
  switch (role) {
    case store::SubjectRole::kDevice: return c.device_credential_hours;
    case store::SubjectRole::kConnector: return c.connector_credential_hours;
    case store::SubjectRole::kRelay: return c.relay_credential_hours;
  }
  return c.device_credential_hours;
}

std::vector<std::string> JsonList(const std::string& text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

store::StoreResult<void> Record(store::WriteTx& tx, const Issued& issued, store::SubjectRole role,
                                std::string_view tenant, std::string_view subject, int64_t now) {
  store::CredentialRecord rec;
  rec.serial = issued.serial;
  rec.role = role;
  rec.tenant = std::string(tenant);
  rec.subject = std::string(subject);
  rec.not_before = issued.not_before;
  rec.not_after = issued.not_after;
  rec.issued_at = now;
  return tx.InsertCredential(rec);
}

}  // namespace

Result<Issued, Problem> IssueTenantSubject(const Context& ctx, store::WriteTx& tx, const store::TenantRecord& tenant,
                                           store::SubjectRole role, std::string_view subject,
                                           std::span<const uint8_t> signing_key, std::span<const uint8_t> noise_key) {
  auto seed_bytes = ctx.services.sealer->Open(store::SealContext::kTenantKey, tenant.id, tenant.signing_key_sealed);
  if (!seed_bytes) return Fail(Internal(fmt::format("the tenant key of {} does not open", tenant.id)));
  crypto::Ed25519Seed seed;
  if (!crypto::Ed25519Seed::FromSpan(std::span<const uint8_t>(seed_bytes->data(), seed_bytes->size()), &seed)) {
    return Fail(Internal("a sealed tenant key is not an Ed25519 seed"));
  }
  const crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::FromSeed(seed);
  auto serial = tx.NextSerial();
  if (!serial) return Fail(StoreProblem(serial.error()));
  Issued out;
  out.serial = *serial;
  out.not_before = ctx.now - kCredentialBackdateSeconds;
  out.not_after = std::min(ctx.now + int64_t{Hours(ctx.services.config, role)} * 3600, tenant.tenant_cert_not_after);
  crypto::CredentialParams p;
  p.role = role == store::SubjectRole::kConnector ? crypto::Role::kConnector : crypto::Role::kDevice;
  p.subject_id = subject;
  if (!crypto::Ed25519PublicKey::FromSpan(signing_key, &p.key) ||
      !crypto::X25519PublicKey::FromSpan(noise_key, &p.noise_key)) {
    return Fail(Internal("a public key of the wrong size"));
  }
  p.serial = static_cast<uint64_t>(out.serial);
  // The TenantCert starts an hour before the tenant was made; a credential may not start before it.
  auto tc = crypto::ParseTenantCert(tenant.tenant_cert);
  if (!tc) return Fail(Internal("the stored TenantCert does not parse"));
  out.not_before = std::max<int64_t>(out.not_before, static_cast<int64_t>(tc->not_before));
  p.not_before = static_cast<uint64_t>(out.not_before);
  p.not_after = static_cast<uint64_t>(out.not_after);
  auto cred = crypto::IssueCredential(key, tenant.tenant_cert, p);
  if (!cred) {
    return Fail(Internal(fmt::format("credential not issued: {}", crypto::CredentialErrorName(cred.error().code))));
  }
  out.credential = std::move(*cred);
  auto rec = Record(tx, out, role, tenant.id, subject, ctx.now);
  if (!rec) return Fail(StoreProblem(rec.error()));
  return out;
}

Result<Issued, Problem> IssueRelay(const Context& ctx, store::WriteTx& tx, const store::RelayRecord& relay,
                                   std::span<const uint8_t> signing_key, std::span<const uint8_t> tls_spki) {
  if (ctx.services.tls_ca == nullptr) return Fail(Internal("no operator TLS CA loaded"));
  pki::LeafParams lp;
  lp.common_name = relay.id;
  lp.dns_names = JsonList(relay.tls_names);
  lp.ip_addresses = JsonList(relay.tls_ips);
  lp.valid_seconds = int64_t{ctx.services.config.relay_credential_hours} * 3600;
  auto leaf = pki::IssueLeafForKey(
      *ctx.services.tls_ca, std::string_view(reinterpret_cast<const char*>(tls_spki.data()), tls_spki.size()), lp);
  if (!leaf) {
    if (leaf.error().code == pki::X509Error::kInvalidArgument) {
      return Fail(InvalidRequest({FieldError{"/tls_public_key", FieldErrorCode::kBadFormat,
                                             "expected a P-256 SubjectPublicKeyInfo (DER)"}},
                                 1));
    }
    return Fail(Internal(fmt::format("relay TLS certificate not issued: {}", leaf.error().reason)));
  }
  auto tls_not_after = pki::CertificateNotAfter(leaf->cert_pem);
  if (!tls_not_after) return Fail(Internal("the relay TLS certificate has no notAfter"));
  auto serial = tx.NextSerial();
  if (!serial) return Fail(StoreProblem(serial.error()));
  Issued out;
  out.serial = *serial;
  out.not_before = ctx.now - kCredentialBackdateSeconds;
  out.not_after = ctx.now + int64_t{ctx.services.config.relay_credential_hours} * 3600;
  out.tls_cert_pem = leaf->cert_pem + ctx.services.tls_ca->cert_pem;
  out.tls_not_after = *tls_not_after;
  crypto::CredentialParams p;
  p.role = crypto::Role::kRelay;
  p.subject_id = relay.id;
  if (!crypto::Ed25519PublicKey::FromSpan(signing_key, &p.key)) return Fail(Internal("a key of the wrong size"));
  p.serial = static_cast<uint64_t>(out.serial);
  p.not_before = static_cast<uint64_t>(out.not_before);
  p.not_after = static_cast<uint64_t>(out.not_after);
  auto cred = crypto::IssueRelayCredential(*ctx.services.root, p);
  if (!cred) {
    return Fail(Internal(fmt::format("credential not issued: {}", crypto::CredentialErrorName(cred.error().code))));
  }
  out.credential = std::move(*cred);
  auto rec = Record(tx, out, store::SubjectRole::kRelay, "", relay.id, ctx.now);
  if (!rec) return Fail(StoreProblem(rec.error()));
  return out;
}

Result<nlohmann::json, Problem> BundleJson(const Context& ctx, store::ReadTx& tx, store::SubjectRole role,
                                           std::string_view tenant, std::string_view subject, const Issued& issued) {
  using J = nlohmann::json;
  const auto key = [](std::string_view k) { return std::string(k); };
  J b = J::object();
  b[key(wire::kBundleVersionField)] = wire::kBundleVersion;
  b[key(wire::kBundleKindField)] = store::ToString(role);
  if (role != store::SubjectRole::kRelay) b[key(wire::kBundleTenantField)] = tenant;
  b[key(wire::kBundleSubjectField)] = subject;
  b[key(wire::kBundleCredentialField)] = BytesJson(issued.credential);
  b[key(wire::kBundleRootKeyField)] = BytesJson(ctx.services.root->public_key.bytes());
  if (role == store::SubjectRole::kRelay) {
    b[key(wire::kBundleTlsCertField)] = issued.tls_cert_pem;
  } else {
    if (ctx.services.tls_ca == nullptr) return Fail(Internal("no operator TLS CA loaded"));
    b[key(wire::kBundleCaPemField)] = ctx.services.tls_ca->cert_pem;
  }

  J relays = J::array();
  std::string after;
  for (;;) {
    auto page = tx.ListRelays(after, store::kMaxPageLimit);
    if (!page) return Fail(StoreProblem(page.error()));
    for (const store::RelayRecord& r : page->items) {
      if (r.state != store::EnrolState::kActive || r.device_endpoint.empty() || r.connector_endpoint.empty()) continue;
      if (relays.size() >= wire::kMaxBundleRelays) break;
      relays.push_back({{key(wire::kRelayIdField), r.id},
                        {key(wire::kRelayDeviceField), r.device_endpoint},
                        {key(wire::kRelayConnectorField), r.connector_endpoint}});
    }
    if (!page->more || page->items.empty()) break;
    after = page->items.back().id;
  }
  b[key(wire::kBundleRelaysField)] = std::move(relays);

  if (role == store::SubjectRole::kDevice) {
    const store::TenantScope scope{std::string(tenant)};
    J connectors = J::array();
    auto page = tx.ListConnectors(scope, "", wire::kMaxBundleConnectors);
    if (!page) return Fail(StoreProblem(page.error()));
    for (const store::ConnectorRecord& c : page->items) {
      if (c.state != store::EnrolState::kActive || !c.noise_public) continue;
      connectors.push_back({{key(wire::kConnectorIdField), c.id}, {key(wire::kConnectorNoiseKeyField), BytesJson(*c.noise_public)}});
    }
    b[key(wire::kBundleConnectorsField)] = std::move(connectors);
    auto policy = tx.GetDefaultPolicy(scope);
    if (!policy) return Fail(StoreProblem(policy.error()));
    J p = nullptr;
    if (*policy) {
      // The policy document as PolicyWrite holds it (app, tunnel, ...), with its id and version.
      p = J::parse((*policy)->doc_json, nullptr, false);
      if (!p.is_object()) p = J::object();
      p["id"] = (*policy)->id;
      p["version"] = (*policy)->version;
    }
    b[key(wire::kBundlePolicyField)] = std::move(p);
  }

  const int64_t renew_after = issued.not_before + (issued.not_after - issued.not_before) * 2 / 3;
  b[key(wire::kBundleControlField)] = {{key(wire::kControlUrlField), ctx.services.config.public_url},
                                       {key(wire::kControlRenewAfterField), TimeJson(renew_after)},
                                       {key(wire::kControlNotAfterField), TimeJson(issued.not_after)}};
  return b;
}

nlohmann::json CredentialJson(int64_t serial, int64_t not_after) {
  return {{"serial", std::to_string(serial)}, {"not_after", TimeJson(not_after)}};
}

}  // namespace strait::control
