// POST /v1/activate (docs/control-plane.md §6.2): a device, connector or relay redeems its activation code. The
// code never travels: the body carries a MAC under K over the TLS exporter of this connection, so a relayed or
// replayed request fails, and the answer carries a MAC under K over the same exporter and the body, so the client
// knows it reached the holder of K before it trusts the bundle's CA.
//
// Checks, in §6.2's order, each with its answer: unknown id or wrong MAC -> 401 activation-invalid (failed_attempts
// + 1, the 10th burns it); burned or cancelled -> 401; used -> 409; expired -> 410; tenant suspended -> 403; bad
// key_proof -> 400; OS differs -> 422; device seats -> 403 licence-exhausted / licence-expired. Everything after the
// MAC runs in one write transaction, so concurrent redeems cannot pass the seats.
#include <fmt/format.h>

#include "control-plane/api/activation_code.h"
#include "control-plane/api/dto_enroll.h"
#include "control-plane/handlers/common.h"
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/issuer.h"
#include "tunnel/control/control_wire.h"

namespace strait::control::handlers {
namespace {

namespace wire = strait::control::wire;

Problem Invalid() {
  return MakeProblem(ProblemType::kActivationInvalid, "unknown activation, or the code does not match it");
}

ActivationKind KindOf(EnrolKind k) {
  return k == EnrolKind::kDevice ? ActivationKind::kDevice
         : k == EnrolKind::kConnector ? ActivationKind::kConnector
                                      : ActivationKind::kRelay;
}

store::SubjectRole RoleOf(EnrolKind k) {
  return k == EnrolKind::kDevice ? store::SubjectRole::kDevice
         : k == EnrolKind::kConnector ? store::SubjectRole::kConnector
                                      : store::SubjectRole::kRelay;
}

std::string BodyText(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // as the dispatcher renders it
}

// The answer MAC over exactly the bytes the dispatcher will send.
void AddMacHeader(Reply* reply, const ActivationKey& k, Exporter e) {
  reply->headers.emplace_back(std::string(wire::kActivationMacHeader), ActivatedMacHeader(k, e, BodyText(reply->body)));
}

// The request after its MAC checked: state, tenant, proof, OS, seats, then the issue, in one write transaction.
Outcome RedeemChecked(Context& ctx, const Redeem& in, const ActivationKey& k, Exporter e) {
  STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
  STRAIT_STORE_ASSIGN(auto a, tx->GetActivation(in.activation));
  if (!a) return Invalid();
  switch (a->state) {
    case store::ActivationState::kBurned:
    case store::ActivationState::kCancelled: return Invalid();
    case store::ActivationState::kUsed: {
      Problem p = MakeProblem(ProblemType::kActivationUsed, fmt::format("activation {} was redeemed already", a->id));
      p.extensions["used_at"] = TimeJson(a->used_at);
      return p;
    }
    case store::ActivationState::kExpired:
    case store::ActivationState::kPending: break;
  }
  if (a->state == store::ActivationState::kExpired || ctx.now > a->expires_at) {
    Problem p = MakeProblem(ProblemType::kActivationExpired, fmt::format("activation {} has expired", a->id));
    p.extensions["expired_at"] = TimeJson(a->expires_at);
    return p;
  }
  if (a->kind != RoleOf(in.kind)) {
    return InvalidRequest({FieldError{"/kind", FieldErrorCode::kOutOfRange,
                                      fmt::format("this activation enrols a {}", store::ToString(a->kind))}},
                          1);
  }
  std::optional<store::TenantRecord> tenant;
  if (a->tenant) {
    ctx.scope.emplace(*a->tenant);
    STRAIT_STORE_ASSIGN(tenant, tx->GetTenant(*ctx.scope));
    if (!tenant) return Invalid();  // deleted with its tenant
    if (tenant->state == store::TenantState::kSuspended) {
      return MakeProblem(ProblemType::kTenantSuspended, fmt::format("tenant {} is suspended", tenant->id));
    }
  }
  crypto::Ed25519PublicKey signing;
  crypto::Ed25519Signature proof;
  if (!crypto::Ed25519PublicKey::FromSpan(in.signing_key, &signing) ||
      !crypto::Ed25519Signature::FromSpan(in.key_proof, &proof) ||
      !crypto::Ed25519Verify(signing, KeyProofInput(e), proof)) {
    return InvalidRequest({FieldError{"/key_proof", FieldErrorCode::kBadFormat,
                                      "not a signature by signing_key over this TLS session's exporter"}},
                          1);
  }

  Issued issued;
  std::string subject;
  std::string_view action;
  if (a->kind == store::SubjectRole::kDevice) {
    const RedeemDevice& d = *in.device;
    const auto os = store::ParseDeviceOs(OsWord(d.os));
    if (a->os && *a->os != *os) {
      Problem p = MakeProblem(ProblemType::kActivationOsMismatch,
                              fmt::format("this activation is for {}, the device reports {}",
                                          store::ToString(*a->os), OsWord(d.os)));
      p.extensions["expected"] = store::ToString(*a->os);
      return p;
    }
    const store::PushService push = store::PushServiceFor(*os);
    if (push == store::PushService::kNone && d.push_token) {
      return InvalidRequest({FieldError{"/device/push_token", FieldErrorCode::kOutOfRange,
                                        fmt::format("{} devices have no push service", OsWord(d.os))}},
                            1);
    }
    STRAIT_STORE_ASSIGN(auto licence, tx->GetLicence(*ctx.scope));
    const store::LicenceRecord l = licence.value_or(store::LicenceRecord{});
    STRAIT_STORE_ASSIGN(int64_t used, tx->CountSeatsUsed(*ctx.scope));
    if (used >= l.seats) {
      Problem p = MakeProblem(ProblemType::kLicenceExhausted,
                              fmt::format("tenant {} uses {} of its {} device seats: revoke a device or ask the "
                                          "operator for more",
                                          tenant->id, used, l.seats));
      p.extensions["seats"] = l.seats;
      p.extensions["used"] = used;
      return p;
    }
    if (l.expires_at && ctx.now > *l.expires_at) {
      Problem p = MakeProblem(ProblemType::kLicenceExpired, fmt::format("tenant {}'s licence has expired", tenant->id));
      p.extensions["expires_at"] = TimeJson(l.expires_at);
      return p;
    }
    store::DeviceRecord dev;
    dev.id = GenerateId(IdKind::kDevice);
    dev.user_id = a->target;
    dev.name = d.name.value_or(d.model.empty() ? std::string(OsWord(d.os)) : d.model);
    dev.os = *os;
    dev.os_version = d.os_version;
    dev.model = d.model;
    dev.state = store::DeviceState::kActive;
    dev.signing_public = in.signing_key;
    dev.noise_public = in.noise_key;
    dev.push_service = push;
    dev.push_token = d.push_token;
    if (d.push_token) dev.push_updated_at = ctx.now;
    dev.activation_id = a->id;
    dev.activated_at = ctx.now;
    dev.created_at = dev.updated_at = ctx.now;
    STRAIT_STORE_TRY(tx->InsertDevice(*ctx.scope, dev));
    subject = dev.id;
    action = "device.activate";
    auto got = IssueTenantSubject(ctx, *tx, *tenant, store::SubjectRole::kDevice, subject, in.signing_key,
                                  in.noise_key);
    if (!got) return got.error();
    issued = std::move(*got);
  } else if (a->kind == store::SubjectRole::kConnector) {
    STRAIT_STORE_ASSIGN(auto c, tx->GetConnector(*ctx.scope, a->target));
    if (!c) return Invalid();
    if (c->state == store::EnrolState::kRevoked) {
      return MakeProblem(ProblemType::kConnectorRevoked, fmt::format("connector {} is revoked", c->id));
    }
    // Re-enrolling replaces its keys (§4.9 ActivationCreate).
    c->state = store::EnrolState::kActive;
    c->signing_public = in.signing_key;
    c->noise_public = in.noise_key;
    c->enrolled_at = ctx.now;
    c->updated_at = ctx.now;
    STRAIT_STORE_TRY(tx->UpdateConnector(*ctx.scope, *c));
    subject = c->id;
    action = "connector.enroll";
    auto got = IssueTenantSubject(ctx, *tx, *tenant, store::SubjectRole::kConnector, subject, in.signing_key,
                                  in.noise_key);
    if (!got) return got.error();
    issued = std::move(*got);
  } else {
    STRAIT_STORE_ASSIGN(auto r, tx->GetRelay(a->target));
    if (!r) return Invalid();
    if (r->state == store::EnrolState::kRevoked) {
      return MakeProblem(ProblemType::kRelayRevoked, fmt::format("relay {} is revoked", r->id));
    }
    auto got = IssueRelay(ctx, *tx, *r, in.signing_key, in.tls_public_key);
    if (!got) return got.error();
    issued = std::move(*got);
    r->state = store::EnrolState::kActive;
    r->signing_public = in.signing_key;
    r->tls_spki = in.tls_public_key;
    r->tls_cert_not_after = issued.tls_not_after;
    r->updated_at = ctx.now;
    STRAIT_STORE_TRY(tx->UpdateRelay(*r));
    subject = r->id;
    action = "relay.enroll";
  }
  STRAIT_STORE_ASSIGN(bool redeemed, tx->RedeemActivation(a->id, subject, ctx.now));
  if (!redeemed) return Invalid();  // the writer lock makes this unreachable after the checks above
  STRAIT_STORE_TRY(AppendAudit(ctx, *tx, action, store::ToString(a->kind), subject,
                               {{"activation", a->id}, {"serial", std::to_string(issued.serial)}}));
  auto bundle = BundleJson(ctx, *tx, a->kind, a->tenant.value_or(""), subject, issued);
  if (!bundle) return bundle.error();
  Reply reply{200, std::move(*bundle), {}};
  AddMacHeader(&reply, k, e);
  return CommitReply(ctx, *tx, std::move(reply));
}

}  // namespace

Outcome Activate(Context& ctx) {
  auto in = DecodeRedeem(ctx.body);
  if (!in) return in.error();
  const Exporter e(ctx.request.exporters.activate);

  // 1. The id and the MAC, before anything about the activation is told.
  std::optional<store::ActivationRecord> a;
  {
    STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Read());
    STRAIT_STORE_ASSIGN(a, tx->GetActivation(in->activation));
  }
  if (!a) return Invalid();
  auto opened = ctx.services.sealer->Open(store::SealContext::kActivationKey, a->id, a->mac_key_sealed);
  if (!opened || opened->size() != ActivationKey::kSize) {
    return MakeProblem(ProblemType::kInternal, "an activation key does not open");
  }
  const ActivationKey k(std::span<const uint8_t, ActivationKey::kSize>(opened->data(), ActivationKey::kSize));
  std::optional<std::span<const uint8_t, 32>> noise;
  if (!in->noise_key.empty()) noise.emplace(in->noise_key.data(), 32);
  std::optional<std::span<const uint8_t>> tls;
  if (!in->tls_public_key.empty()) tls.emplace(in->tls_public_key);
  const auto input = ActivateMacInput(e, in->activation, KindOf(in->kind),
                                      std::span<const uint8_t, 32>(in->signing_key.data(), 32), noise, tls);
  if (!VerifyActivateMac(k, input, in->mac)) {
    STRAIT_STORE_ASSIGN(auto tx, ctx.services.store->Write());
    STRAIT_STORE_TRY(tx->RecordFailedActivation(a->id, ctx.now));
    STRAIT_STORE_TRY(tx->Commit());
    return Invalid();
  }

  // 2. A retry of a redeem that succeeded: the same bundle, with a MAC over this connection's exporter. The scope
  // is the activation (§4.5); it also names the actor of the audit record. The retry comes on a new connection, so
  // its mac and key_proof differ: the fingerprint covers the rest (the keys, the device) and the MAC above has
  // proved the caller holds the code.
  ctx.idempotency_scope = a->id;
  nlohmann::json fingerprinted = ctx.body;
  fingerprinted.erase("mac");
  fingerprinted.erase("key_proof");
  ctx.fingerprint_body = fingerprinted.dump();
  if (auto stored = IdempotentReplay(ctx)) {
    if (auto* r = std::get_if<Reply>(&*stored)) AddMacHeader(r, k, e);
    ctx.idempotency_scope.clear();  // answered: the dispatcher looks no further
    return std::move(*stored);
  }
  Outcome out = RedeemChecked(ctx, *in, k, e);
  // Lost a race with a retry under the same key (it committed first): answer its bundle, with our MAC.
  if (std::holds_alternative<Problem>(out) && ctx.idempotency_key) {
    if (auto stored = IdempotentReplay(ctx); stored && std::holds_alternative<Reply>(*stored)) {
      AddMacHeader(&std::get<Reply>(*stored), k, e);
      out = std::move(*stored);
    }
  }
  ctx.idempotency_scope.clear();  // the dispatcher's own replay would carry no MAC
  return out;
}

}  // namespace strait::control::handlers
