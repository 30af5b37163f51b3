#include "control-plane/handlers/machine_auth.h"

#include <algorithm>

#include <fmt/format.h>

#include "control-plane/api/formats.h"
#include "control-plane/handlers/common.h"
#include "crypto/credential.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

Problem Unauthenticated(std::string detail, std::string_view reason) {
  Problem p = MakeProblem(ProblemType::kUnauthenticated, std::move(detail));
  p.extensions["reason"] = std::string(reason);
  return p;
}

// "cred=<b64>, proof=<b64>" in that order (the only form daemons send); false if anything else.
bool SplitParams(std::string_view v, std::string_view* cred, std::string_view* proof) {
  constexpr std::string_view kCred = "cred=", kProof = ", proof=";
  if (v.substr(0, kCred.size()) != kCred) return false;
  v.remove_prefix(kCred.size());
  size_t comma = v.find(kProof);
  if (comma == std::string_view::npos) return false;
  *cred = v.substr(0, comma);
  *proof = v.substr(comma + kProof.size());
  return !cred->empty() && !proof->empty() && proof->find_first_of(", ") == std::string_view::npos;
}

}  // namespace

store::StoreResult<std::vector<store::CredentialRecord>> NewestCredentialsOf(store::ReadTx& tx, const Principal& p,
                                                                            size_t n) {
  if (p.kind == PrincipalKind::kRelay) return tx.NewestRelayCredentials(p.id, n);
  return tx.NewestCredentials(store::TenantScope(p.tenant),
                              p.kind == PrincipalKind::kConnector ? store::SubjectRole::kConnector
                                                                  : store::SubjectRole::kDevice,
                              p.id, n);
}

std::optional<Problem> SupersededProblem(const Principal& p, std::span<const store::CredentialRecord> newest) {
  // An expired credential renews only if it is one of the two newest issued to its subject (§6.5): a laptop that
  // slept through its expiry, or lost the answer of its last renewal; not a copy superseded long ago.
  if (!p.credential_expired) return std::nullopt;
  const bool recent = std::any_of(newest.begin(), newest.end(), [&](const store::CredentialRecord& r) {
    return r.serial == p.credential_serial;
  });
  if (recent) return std::nullopt;
  return Unauthenticated("the credential has expired and a newer one was issued since: activate again", "superseded");
}

bool IsMachineCredential(std::string_view v) {
  return v.size() > wire::kCredentialAuthScheme.size() && v.substr(0, wire::kCredentialAuthScheme.size()) ==
                                                              wire::kCredentialAuthScheme &&
         v[wire::kCredentialAuthScheme.size()] == ' ';
}

std::variant<Principal, Problem> AuthenticateMachine(std::string_view header_value, const http::Request& request,
                                                     const Services& services, store::ReadTx& tx, int64_t now,
                                                     const MachineAuthOptions& options) {
  std::string_view cred_text, proof_text;
  if (!IsMachineCredential(header_value) ||
      !SplitParams(header_value.substr(wire::kCredentialAuthScheme.size() + 1), &cred_text, &proof_text)) {
    return Unauthenticated("expected 'Strait-Credential cred=<base64>, proof=<base64>'", "malformed");
  }
  auto cred = DecodeBase64(cred_text);
  auto proof = DecodeBase64(proof_text);
  crypto::Ed25519Signature sig;
  if (!cred || !proof || cred->size() > crypto::kMaxCredentialSize || !crypto::Ed25519Signature::FromSpan(*proof, &sig)) {
    return Unauthenticated("the credential or proof is not base64 of the right size", "malformed");
  }
  const crypto::Ed25519PublicKey& root = services.root->public_key;
  auto verified = crypto::VerifyCredential(*cred, root, static_cast<uint64_t>(now), {});
  bool in_grace = false;
  if (!verified && verified.error().code == crypto::CredentialError::kExpired && options.grace_seconds > 0) {
    // Renewal within the grace period: the credential must have been valid at its own not_after.
    auto view = crypto::ParseCredential(*cred);
    if (view && now - static_cast<int64_t>(view->not_after) <= options.grace_seconds) {
      verified = crypto::VerifyCredential(*cred, root, view->not_after, {});
      in_grace = verified.ok();
    }
  }
  if (!verified) {
    return Unauthenticated(fmt::format("the credential is refused: {}", verified.error().reason),
                           crypto::CredentialErrorName(verified.error().code));
  }
  const crypto::VerifiedCredential& c = *verified;
  const std::string message = wire::ControlProofMessage(crypto::RoleName(c.role), request.exporters.control);
  if (!crypto::Ed25519Verify(c.key, std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size()), sig)) {
    return Unauthenticated("the proof does not verify for this connection", "bad_proof");
  }

  Principal p;
  p.kind = c.role == crypto::Role::kRelay       ? PrincipalKind::kRelay
           : c.role == crypto::Role::kConnector ? PrincipalKind::kConnector
                                                : PrincipalKind::kDevice;
  p.id = c.subject_id;
  p.tenant = c.tenant_id;
  p.credential_serial = static_cast<int64_t>(c.serial);
  p.credential_expired = in_grace;
  if (in_grace) {
    // On this snapshot first, so a superseded copy is refused without waiting for the writer (renew.cc decides).
    auto newest = NewestCredentialsOf(tx, p, kGraceNewest);
    if (!newest) return StoreProblem(newest.error());
    if (auto superseded = SupersededProblem(p, *newest)) return std::move(*superseded);
  }

  auto same_key = [&](const std::optional<store::Bytes>& stored) {
    return stored && stored->size() == 32 && std::equal(stored->begin(), stored->end(), c.key.bytes().begin());
  };
  if (c.role == crypto::Role::kRelay) {
    STRAIT_STORE_ASSIGN(auto relay, tx.GetRelay(c.subject_id));
    if (!relay || !same_key(relay->signing_public)) return Unauthenticated("no such relay", "unknown_subject");
    if (relay->state == store::EnrolState::kRevoked) {
      return MakeProblem(ProblemType::kRelayRevoked, fmt::format("relay {} is revoked", c.subject_id));
    }
    return p;
  }
  const store::TenantScope scope(c.tenant_id);
  STRAIT_STORE_ASSIGN(auto tenant, tx.GetTenant(scope));
  if (!tenant) return Unauthenticated("no such tenant", "unknown_subject");
  if (tenant->state == store::TenantState::kSuspended) {
    return MakeProblem(ProblemType::kTenantSuspended, fmt::format("tenant {} is suspended", c.tenant_id));
  }
  if (c.role == crypto::Role::kConnector) {
    STRAIT_STORE_ASSIGN(auto conn, tx.GetConnector(scope, c.subject_id));
    if (!conn || !same_key(conn->signing_public)) return Unauthenticated("no such connector", "unknown_subject");
    if (conn->state == store::EnrolState::kRevoked) {
      return MakeProblem(ProblemType::kConnectorRevoked, fmt::format("connector {} is revoked", c.subject_id));
    }
    return p;
  }
  STRAIT_STORE_ASSIGN(auto device, tx.GetDevice(scope, c.subject_id));
  if (!device || device->signing_public.size() != 32 ||
      !std::equal(device->signing_public.begin(), device->signing_public.end(), c.key.bytes().begin())) {
    return Unauthenticated("no such device", "unknown_subject");
  }
  if (device->state == store::DeviceState::kRevoked) {
    return MakeProblem(ProblemType::kDeviceRevoked, fmt::format("device {} is revoked", c.subject_id));
  }
  if (device->state == store::DeviceState::kLocked) {
    return MakeProblem(ProblemType::kDeviceLocked, fmt::format("device {} is locked", c.subject_id));
  }
  return p;
}

}  // namespace strait::control
